# bootlace.pkr.hcl - AMIs with bootlace baked in, one from Debian 12 (the
# .deb of `make deb`) and one from Amazon Linux 2023 (the .rpm of
# `make rpm`).  bake.sh installs the package and enables bootlace.service
# without starting it: each instance launched from the image sets itself up
# at its first boot, configured by its user data (a "#bootlace" document,
# examples/user-data/bootlace.yaml).
#
# From the top of the source tree, after make deb and make rpm:
#
#   packer init examples/packer
#   packer build -only amazon-ebs.debian examples/packer
#   packer build -only amazon-ebs.al2023 examples/packer

packer {
  required_plugins {
    amazon = {
      version = ">= 1.3.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "deb" {
  type        = string
  description = "The .deb that make deb built (for amazon-ebs.debian)."
  default     = "build/packages/bootlace_0.1.0_amd64.deb"
}

variable "rpm" {
  type        = string
  description = "The .rpm that make rpm built (for amazon-ebs.al2023)."
  default     = "build/packages/bootlace-0.1.0-1.x86_64.rpm"
}

locals {
  stamp = formatdate("YYYYMMDDhhmmss", timestamp())
  # Which package each source installs.
  package = {
    debian = "deb"
    al2023 = "rpm"
  }
}

source "amazon-ebs" "debian" {
  region        = var.region
  instance_type = "t3.small"
  ami_name      = "bootlace-debian-12-${local.stamp}"
  source_ami_filter {
    filters = {
      name                = "debian-12-amd64-*"
      architecture        = "x86_64"
      virtualization-type = "hvm"
    }
    owners      = ["136693071363"] # Debian
    most_recent = true
  }
  ssh_username = "admin"
  # The build instance requires IMDSv2 like the fleet, and instances
  # launched from the image do too unless their launch template says
  # otherwise.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  imds_support = "v2.0"
}

source "amazon-ebs" "al2023" {
  region        = var.region
  instance_type = "t3.small"
  ami_name      = "bootlace-al2023-${local.stamp}"
  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-x86_64"
      architecture        = "x86_64"
      virtualization-type = "hvm"
    }
    owners      = ["amazon"]
    most_recent = true
  }
  ssh_username = "ec2-user"
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  imds_support = "v2.0"
}

build {
  sources = ["source.amazon-ebs.debian", "source.amazon-ebs.al2023"]

  provisioner "file" {
    only        = ["amazon-ebs.debian"]
    source      = var.deb
    destination = "/tmp/bootlace.deb"
  }

  provisioner "file" {
    only        = ["amazon-ebs.al2023"]
    source      = var.rpm
    destination = "/tmp/bootlace.rpm"
  }

  provisioner "shell" {
    script          = "${path.root}/bake.sh"
    execute_command = "chmod +x {{ .Path }}; sudo {{ .Path }} /tmp/bootlace.${local.package[source.name]}"
  }
}
