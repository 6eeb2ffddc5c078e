#!/usr/bin/env bash
# The inventory plugin as a user runs it: a shadeform.yml read by ansible-inventory and by ansible-playbook -i, over the
# instance this target launches. playbooks/cleanup.yml deletes it whatever happens.
set -eux

# tests/integration/integration_config.yml: the API, its key and the run's prefix, for the playbooks.
vars=(-e @../../integration_config.yml -e "output_dir=${OUTPUT_DIR}")
# The inventory file takes the key from the environment, as users are told to pass it. Not with -e: ansible-inventory
# --list prints extra variables among every host's variables.
set +x
SHADEFORM_API_KEY="$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["shadeform_api_key"])' \
    ../../integration_config.yml)"
export SHADEFORM_API_KEY
set -x

cleanup() {
    ansible-playbook playbooks/cleanup.yml -i "${INVENTORY_PATH}" "${vars[@]}"
}
trap cleanup EXIT

# Launches the instance and writes ${OUTPUT_DIR}/integration.shadeform.yml, which keeps only this run's instances.
ansible-playbook playbooks/launch.yml -i "${INVENTORY_PATH}" "${vars[@]}" "$@"

ansible-inventory -i "${OUTPUT_DIR}/integration.shadeform.yml" --list "$@" > "${OUTPUT_DIR}/list.json"

# Checks the hosts, groups and variables of ansible-inventory's output and of ansible-playbook -i, then deletes the
# instance and checks that meta: refresh_inventory drops its host.
ansible-playbook playbooks/test_inventory.yml -i "${OUTPUT_DIR}/integration.shadeform.yml" "${vars[@]}" \
    -e "list_path=${OUTPUT_DIR}/list.json" "$@"

# The instance is gone: nothing left for the cleanup.
trap - EXIT
