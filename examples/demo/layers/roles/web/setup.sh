#!/bin/sh
# Role layer: what every instance tagged role=web gets.
set -eu
echo "roles/web: would install nginx and open port 443 for role $BOOTLACE_ROLE"
