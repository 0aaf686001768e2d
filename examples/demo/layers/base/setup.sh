#!/bin/sh
# Base layer: what every instance of the fleet gets.  (The demo only says
# what a real base script would do; it changes nothing on this machine.)
set -eu
echo "base: instance $BOOTLACE_INSTANCE_ID in $BOOTLACE_AVAILABILITY_ZONE"
echo "base: would install the monitoring agent and harden sshd"
