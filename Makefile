# The README's two commands: `make bench` and `make test`. Each sets everything up on a fresh
# machine (Debian packages when missing, a virtualenv in .venv, the package in editable mode).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU wheel of torch is on disk on the project's machines; pyproject keeps a range for GPUs.
TORCH_SPEC ?= torch==2.13.0
SYSTEM_PACKAGES := libosmesa6 libusb-1.0-0
STAMP := $(VENV)/.installed
export MUJOCO_GL ?= osmesa

.PHONY: help install system-deps test test-slow bench bench-perf lint format pictures clean \
	grm-data grm-pretrain grm-eval tcn-pretrain

help:
	@echo "make test       install, then run the default (fast) test suite"
	@echo "make test-slow  install, then run the slow tests"
	@echo "make bench      install, then run the quick benchmark (results/quick/<time>/)"
	@echo "make bench-perf install, then run the perf suite (speed ratios)"
	@echo "make lint       ruff"
	@echo "make pictures   regenerate the task pictures in docs/images/"
	@echo "make grm-data   generate the GRM pretraining demos (data/grm/, 4 training tasks)"
	@echo "make grm-pretrain  pretrain the general GRM on them (runs/grm_long/)"
	@echo "make grm-eval   evaluate the shipped GRM on the held-out tasks (results/grm/)"
	@echo "make tcn-pretrain  train the TCN image encoder on the grm-data demos (runs/tcn/) and"
	@echo "                ship it (robo_reward/perceptual/weights/tcn_general.safetensors)"

system-deps:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "Not a Debian system: install OSMesa and libusb-1.0 yourself (missing:$$missing)"; exit 0; \
	fi; \
	echo "Installing Debian packages:$$missing"; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing

# [ros]: the ROS 2 Kilted rclpy and message wheels, so the ROS node tests (tests/ros) run for
# real; they use ros2_ws/src/robo_reward_ros from source (tests/ros/ros_harness.py).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip "setuptools>=77" wheel
	$(PIP) install --quiet "$(TORCH_SPEC)"
	$(PIP) install --quiet -e ".[dev,video,ros]"
	touch $(STAMP)

install: system-deps $(STAMP)

test: install
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pytest -q -m slow

bench: install
	$(VENV)/bin/robo-reward bench quick

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(PIP) install --quiet -e ".[dev,video,ros,bench]"
	touch $(BENCH_STAMP)

# The perf suite compares our controllers with Stable-Baselines3 (the [bench] extra).
bench-perf: install $(BENCH_STAMP)
	$(VENV)/bin/robo-reward bench perf

lint: install
	$(VENV)/bin/ruff check robo_reward tests ros2_ws

format: install
	$(VENV)/bin/ruff format robo_reward tests

pictures: install
	$(PY) docs/make_pictures.py

GRM_TRAIN_TASKS := reach push pick_place drawer_open

grm-data: install
	for task in $(GRM_TRAIN_TASKS); do \
	  $(VENV)/bin/robo-reward demos generate --config reward_training --task $$task \
	    --episodes 150 --seed 1000 --out data/grm/$$task || exit 1; \
	done

grm-pretrain: install
	$(VENV)/bin/robo-reward grm pretrain --config general_long --out runs/grm_long

# Dataset order matters for bit-exact reproduction (it orders the seeded batches).
TCN_DATA_DIRS := data/grm/push data/grm/pick_place data/grm/drawer_open data/grm/reach
TCN_WEIGHTS := robo_reward/perceptual/weights/tcn_general.safetensors

# The multi-view TCN image encoder of the perceptual rewards (7-15 min on 2 shared cores).
tcn-pretrain: install
	$(VENV)/bin/robo-reward encoder train --config default --out runs/tcn --data $(TCN_DATA_DIRS)
	install -D -m 644 runs/tcn/tcn.safetensors $(TCN_WEIGHTS)

grm-eval: install
	$(VENV)/bin/robo-reward grm eval

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
