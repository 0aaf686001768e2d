#!/bin/sh
# User data runs last: the most specific layer, for this one instance.
echo "user-data: tagging this instance's motd with $BOOTLACE_INSTANCE_ID"
