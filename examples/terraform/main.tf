# main.tf - bootlace instances with Terraform: a launch template (role and
# environment tags, IMDSv2 only, instance metadata tags on, the "#bootlace"
# user data of examples/user-data/bootlace.yaml) and the instance role of
# examples/iam/.  Both files are read from there, so they stay the one
# copy.  Point an aws_autoscaling_group at the launch template.
#
#   terraform -chdir=examples/terraform init
#   terraform -chdir=examples/terraform apply -var image_id=ami-0123456789abcdef0 -var bucket=my-bucket

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "image_id" {
  type        = string
  description = "An AMI with bootlace baked in (examples/packer/)."
}

variable "instance_type" {
  type    = string
  default = "t3.small"
}

variable "bucket" {
  type        = string
  description = "The bucket holding the layers (examples/s3-layout/) under bootstrap/."
  default     = "example-bootstrap-bucket"
}

variable "role" {
  type    = string
  default = "web"
  validation {
    condition     = contains(["web", "app"], var.role)
    error_message = "role is web or app: the roles of examples/s3-layout/."
  }
}

variable "environment" {
  type    = string
  default = "production"
  validation {
    condition     = contains(["production", "dev"], var.environment)
    error_message = "environment is production or dev: the environments of examples/s3-layout/."
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "bootlace" {
  name_prefix        = "bootlace-"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

# examples/iam/instance-role-policy.json (its README explains each
# statement), for var.bucket.
resource "aws_iam_role_policy" "bootlace" {
  name   = "bootlace"
  role   = aws_iam_role.bootlace.id
  policy = replace(file("${path.module}/../iam/instance-role-policy.json"), "example-bootstrap-bucket", var.bucket)
}

resource "aws_iam_instance_profile" "bootlace" {
  name_prefix = "bootlace-"
  role        = aws_iam_role.bootlace.name
}

resource "aws_launch_template" "bootlace" {
  name_prefix   = "bootlace-${var.role}-${var.environment}-"
  image_id      = var.image_id
  instance_type = var.instance_type

  iam_instance_profile {
    arn = aws_iam_instance_profile.bootlace.arn
  }

  metadata_options {
    http_endpoint = "enabled"
    # IMDSv2 only: a session token on every request, which bootlace always
    # uses.
    http_tokens = "required"
    # bootlace runs on the host: one hop.  2 only if containers on the
    # instance need IMDS, which also hands them the role.
    http_put_response_hop_limit = 1
    # The tags below, in IMDS: bootlace reads them at boot with no
    # DescribeTags call.
    instance_metadata_tags = "enabled"
  }

  # Tags on the instance from its launch, so that they are there when
  # bootlace reads them at first boot.
  tag_specifications {
    resource_type = "instance"
    tags = {
      role        = var.role
      environment = var.environment
      Name        = "${var.role}-${var.environment}"
    }
  }

  user_data = base64encode(replace(file("${path.module}/../user-data/bootlace.yaml"), "example-bootstrap-bucket", var.bucket))
}

output "launch_template_id" {
  value = aws_launch_template.bootlace.id
}

output "instance_role" {
  value = aws_iam_role.bootlace.name
}
