# Build, test and demo entry points for packetlife.podnet.
#
#   make demo        install everything, bring up the lab, run tutorial steps 1-5, verify, draw
#   make demo-down   tear the lab down again
#   make test        the whole suite, stopping at the first failure
#   make bench       the benchmark suite (bench/run.sh), not part of the tests
#
# Everything runs as root on Debian 12 (the lab creates namespaces and links).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
PYTHON ?= python3
LAB_INVENTORY := /var/lib/podnet-lab/podlab/inventory.ini
COLLECTION_LINK := $(ROOT)/.collections/ansible_collections/packetlife/podnet

# molecule and ansible-lint start ansible-playbook and friends by name.
export PATH := $(VENV)/bin:$(PATH)

# Debian packages for the controller and for the lab nodes, which share this kernel
# and filesystem: namespaces held by tini, sshd per node, the roles' python deps.
# shellcheck lets ansible-test sanity check the shell scripts instead of skipping;
# graphviz renders playbooks/topology.yml's DOT file to SVG.
APT_PACKAGES := ca-certificates git make rsync procps util-linux iproute2 \
	iptables nftables iputils-ping tini openssh-server openssh-client \
	python3 python3-venv python3-apt python3-pyroute2 python3-netaddr python3-pytest shellcheck \
	containernetworking-plugins nginx-light curl \
	docker.io busybox-static gcc libc6-dev graphviz

VENV_STAMP := $(VENV)/.requirements.stamp

# Cycles of converge + teardown that `make soak` runs (tests/reliability/soak.sh),
# and the short soak at the end of `make reliability`.
SOAK_CYCLES ?= 100
RELIABILITY_SOAK_CYCLES ?= 3

# Recipes run as one bash script each (.ONESHELL) and stay quiet; every stage
# announces itself with a banner instead.
define banner
printf '\n=== %s ===\n' $(1)
endef

.PHONY: help deps apt-deps collection-link demo demo-down test unit kernel sanity build \
	lint integration docker reliability molecule residue-baseline residue-check bench soak

help:
	@sed -n '3,8p' $(ROOT)/Makefile | sed 's/^# \{0,1\}//'

deps: apt-deps $(VENV_STAMP) collection-link

# Fast when done: dpkg is asked first, and apt only installs what is missing (so
# packages already present are not upgraded behind the user's back).
# policy-rc.d stops openssh-server's postinst from starting an sshd on the host;
# the lab starts its own per node.
apt-deps:
	@missing=()
	for pkg in $(APT_PACKAGES); do
		dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q '^install ok installed$$' || missing+=("$$pkg")
	done
	if (( $${#missing[@]} == 0 )); then echo "deps: Debian packages present"; exit 0; fi
	echo "deps: installing Debian packages: $${missing[*]}"
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "$${missing[@]}"

# Re-run pip whenever requirements.txt is newer than the last install.
$(VENV_STAMP): $(ROOT)/requirements.txt
	@if [[ ! -x $(VENV)/bin/python ]]; then
		echo "deps: creating $(VENV) with $$(command -v $(PYTHON))"
		$(PYTHON) -m venv $(VENV)
	fi
	echo "deps: pip install -r requirements.txt"
	$(VENV)/bin/python -m pip install -q -r $(ROOT)/requirements.txt
	touch $@

# ansible.cfg resolves packetlife.podnet through this link to the checkout.
collection-link:
	@if [[ "$$(readlink $(COLLECTION_LINK) 2>/dev/null)" != ../../.. ]]; then
		mkdir -p $(dir $(COLLECTION_LINK))
		ln -sfn ../../.. $(COLLECTION_LINK)
		echo "deps: linked $(COLLECTION_LINK) -> ../../.."
	fi

demo: deps
	@$(call banner,"lab up: nodes controlplane and node01")
	cd $(ROOT)
	$(VENV)/bin/ansible-playbook playbooks/lab_up.yml
	$(call banner,"tutorial steps 1-5 on both nodes (playbooks/site.yml)")
	$(VENV)/bin/ansible-playbook -i $(LAB_INVENTORY) playbooks/site.yml
	$(call banner,"verification of every step across the nodes (playbooks/verify.yml)")
	$(VENV)/bin/ansible-playbook -i $(LAB_INVENTORY) playbooks/verify.yml
	$(call banner,"topology picture of what was built (playbooks/topology.yml)")
	$(VENV)/bin/ansible-playbook -i $(LAB_INVENTORY) playbooks/topology.yml
	printf '\nreport:  %s/build/report/verify.md (and verify.json)\n' $(ROOT)
	printf 'picture: %s/build/report/topology.svg (Mermaid: topology.md)\n' $(ROOT)
	printf 'tear down: make demo-down\n'

demo-down: deps
	@$(call banner,"lab down")
	cd $(ROOT)
	$(VENV)/bin/ansible-playbook playbooks/lab_down.yml

# Each stage is its own make run, in this order, so the first failure stops the rest.
test:
	@for stage in deps residue-baseline unit kernel sanity build lint integration docker reliability molecule residue-check; do
		$(MAKE) --no-print-directory -C $(ROOT) "$$stage"
	done
	printf '\n=== make test: all stages passed ===\n'

unit: deps
	@$(call banner,"unit tests")
	cd $(ROOT)
	$(VENV)/bin/python -m pytest tests/unit -q

# The kernel adapter against the real kernel, under both pyroute2 lines a target may
# have: Debian's python3-pyroute2 (0.7) and the venv's PyPI release (0.9).
kernel: deps
	@$(call banner,"kernel adapter tests with pyroute2 from Debian and from PyPI")
	cd $(ROOT)
	for python in /usr/bin/python3 $(VENV)/bin/python; do
		echo "--- $$python, pyroute2 from $$($$python -c 'import pyroute2; print(pyroute2.__path__[0])')"
		$$python -m pytest -q -p no:cacheprovider tests/kernel
	done

sanity: deps
	@$(call banner,"ansible-test sanity")
	bash $(ROOT)/tests/sanity/run.sh

build: deps
	@$(call banner,"collection build and ansible-doc")
	bash $(ROOT)/tests/build_check.sh
	$(call banner,"docs/modules and docs/roles match the modules' and roles' own documentation")
	$(VENV)/bin/python $(ROOT)/docs/generate.py --check

lint: deps
	@$(call banner,"ansible-lint (production profile)")
	cd $(ROOT)
	$(VENV)/bin/ansible-lint
	$(call banner,"vermin: plugins/ importable on Python 3.8+")
	$(VENV)/bin/vermin -t=3.8- --no-tips --violations plugins/

integration: deps
	@$(call banner,"integration tests")
	cd $(ROOT)
	bash tests/integration/run.sh

# pause_pod's docker backend and netns's container adoption against a private Docker
# engine (dockerd of docker.io) that tests/docker/run.sh starts and removes again.
docker: deps
	@$(call banner,"docker backend against a private engine")
	cd $(ROOT)
	bash tests/docker/run.sh

# Bad input, faults, concurrency, security and a short soak on a lab of their own
# (tests/reliability/README.md); RELIABILITY_SOAK_CYCLES sets the soak's length.
reliability: deps
	@$(call banner,"reliability and security suite (tests/reliability/run.sh)")
	cd $(ROOT)
	SOAK_CYCLES=$(RELIABILITY_SOAK_CYCLES) bash tests/reliability/run.sh

molecule: deps
	@$(call banner,"molecule scenarios default fleet teardown")
	cd $(ROOT)
	$(VENV)/bin/molecule test --all

residue-baseline:
	@bash $(ROOT)/tests/residue_check.sh --record $(ROOT)/tests/output/residue-baseline.txt

residue-check:
	@$(call banner,"residue check")
	bash $(ROOT)/tests/residue_check.sh --baseline $(ROOT)/tests/output/residue-baseline.txt

# The zero-residue soak on a lab of its own (psoak): SOAK_CYCLES cycles of converge
# and teardown, then a residue check on the nodes and the host; about 15 s a cycle.
soak: deps
	@$(call banner,"soak: $(SOAK_CYCLES) cycles of converge and teardown (tests/reliability/soak.sh)")
	cd $(ROOT)
	bash tests/reliability/soak.sh --cycles $(SOAK_CYCLES)

# Benchmarks print figures; they are not tests and not part of `make test`.
bench: deps
	@$(call banner,"benchmarks: bench/run.sh")
	cd $(ROOT)
	bench/run.sh
