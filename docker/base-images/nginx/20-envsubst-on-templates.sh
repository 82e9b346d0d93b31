#!/bin/sh
# As the official image: /etc/nginx/templates/NAME.template -> /etc/nginx/conf.d/NAME, substituting
# only ${VAR} for variables that are set, so nginx's own $variables survive.
set -e
template_dir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
output_dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
defined_envs=$(printf '${%s} ' $(env | cut -d= -f1))
for template in "$template_dir"/*.template; do
  [ -f "$template" ] || continue
  output="$output_dir/$(basename "$template" .template)"
  echo "$0: rendering $template to $output"
  envsubst "$defined_envs" < "$template" > "$output"
done
