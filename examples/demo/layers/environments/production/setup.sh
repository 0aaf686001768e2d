#!/bin/sh
# Environment layer: what production instances get on top of their role.
set -eu
echo "environments/production: would point the app at the production database"
