# dicom-deid: `make demo` and `make test` set everything up from a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEBS   := tesseract-ocr dicom3tools fonts-dejavu-core chromium orthanc dcmtk

.PHONY: demo test test-random setup system-deps profiles bench clean fuzz coverage mutation

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[codecs,ocr,scale,net,risk,test]'
	# the DBNet text detection model ships inside this wheel; its own deps (GUI OpenCV...) are unused
	$(PY) -m pip install --quiet --no-deps 'rapidocr-onnxruntime==1.4.4'
	# k-anonymity, l-diversity, t-closeness; its exact numpy/pandas pins are not needed (see pyproject.toml)
	$(PY) -m pip install --quiet --no-deps 'pycanon==1.3.6'
	@touch $(STAMP)

# Debian packages: Tesseract (burned-in text reading), dicom3tools (dciodvfy conformance checks),
# DejaVu fonts (synthetic burned-in text in tests and benchmarks), Chromium (the report test opens
# the HTML report headless and takes a screenshot), Orthanc and DCMTK (the network tests run a real
# PACS on loopback and send with storescu).
system-deps:
	@missing=""; \
	command -v tesseract >/dev/null 2>&1 || missing="$$missing tesseract-ocr"; \
	command -v dciodvfy  >/dev/null 2>&1 || missing="$$missing dicom3tools"; \
	test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || missing="$$missing fonts-dejavu-core"; \
	command -v chromium  >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v Orthanc   >/dev/null 2>&1 || missing="$$missing orthanc"; \
	command -v storescu  >/dev/null 2>&1 || missing="$$missing dcmtk"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get install -y -qq $$missing >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null && apt-get install -y -qq $$missing >/dev/null)) || \
	     { echo "error: could not install$$missing with apt-get"; exit 1; }; \
	  else \
	    echo "error: missing Debian packages:$$missing. Run as root: apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

sample_data/.generated: scripts/make_sample_data.py $(wildcard scripts/samplegen/*.py) | $(STAMP)
	rm -rf sample_data/generated
	$(PY) scripts/make_sample_data.py sample_data/generated
	@touch $@

demo: setup sample_data/.generated
	rm -rf demo_out demo_out.quarantine demo_report.html
	DICOM_DEID_HOME=$(CURDIR)/demo_keys $(PY) -m dicom_deid run sample_data/generated demo_out \
	  --profile research --report demo_report.html --quiet; rc=$$?; \
	  DICOM_DEID_HOME=$(CURDIR)/demo_keys $(PY) -m dicom_deid verify demo_out --against sample_data/generated \
	  --ocr off; vrc=$$?; \
	  echo; echo "demo: de-identified copy in demo_out/, manifest demo_out/dicom-deid-manifest.jsonl,"; \
	  echo "      review report demo_report.html (input side), quarantined originals in demo_out.quarantine/,"; \
	  echo "      key and sealed mapping under demo_keys/"; \
	  test $$rc -le 3 && test $$vrc -eq 0

# The suite in file order; `make test-random` runs it shuffled (it prints the pytest-randomly seed it
# used; SEED=N make test-random repeats that order).  Every test holds in any order.
test: setup
	$(PY) -m pytest -q -p no:randomly

test-random: setup
	@seed=$${SEED:-$$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}; \
	  echo "make test-random: pytest-randomly seed $$seed (SEED=$$seed make test-random repeats this order)"; \
	  $(PY) -m pytest -q --randomly-seed=$$seed

# Branch coverage of the core modules (report in the terminal and coverage.xml); not part of `make test`.
CORE := plan scrub remap clean profiles deidentify boundary pipeline workers write read config events manifest walk \
        report_html cli_review pixels.encode pixels.redact
coverage: setup
	$(PY) -m pytest -q -p no:randomly --cov-branch $(foreach m,$(CORE),--cov=dicom_deid.$(m)) \
	  --cov-report=term --cov-report=xml:coverage.xml

# Mutation testing (mutmut 3, from the dev extra): one module at a time, each against its own tests
# (scripts/mutation.py lists them); CPU-heavy, minutes per module; not part of `make test`.
# MODULES="plan scrub" make mutation runs only those.  Survivors: tests/mutation_survivors.md.
mutation: setup
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) scripts/mutation.py $(MODULES)

# Coverage-guided fuzzing of the per-file boundary (atheris): FUZZ_SECONDS=3600 make fuzz
FUZZ_SECONDS ?= 600
fuzz: $(STAMP)
	$(PY) -m pip install --quiet -e '.[fuzz]'
	$(PY) scripts/fuzz_atheris.py --seeds fuzz-corpus
	$(PY) scripts/fuzz_atheris.py fuzz-corpus -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=4096

profiles: $(STAMP)
	$(PY) scripts/generate_profiles.py

clean:
	rm -rf demo_out demo_out.quarantine demo_report.html demo_risk.html demo_keys sample_data/generated sample_data/.generated .pytest_cache fuzz-corpus \
	  .mutation coverage.xml .coverage
