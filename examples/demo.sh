#!/usr/bin/env bash
# Sets everything up and runs the gitreg demo in a scratch git repository.
# Usage: bash examples/demo.sh            (from the root of a gitreg checkout)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${GITREG_VENV:-$here/.venv}"
if ! "$venv/bin/python" -c "import gitreg, sklearn, pandas, skops, pyarrow" >/dev/null 2>&1; then
  echo "== installing gitreg with scikit-learn and pandas into $venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  "$venv/bin/python" -m pip install -q -e "$here[sklearn,pandas]"
fi
export PATH="$venv/bin:$PATH"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/gitreg-demo.XXXXXX")"
cd "$scratch"
git init -q -b main .
git config user.name >/dev/null || git config user.name "gitreg demo"
git config user.email >/dev/null || git config user.email "demo@example.invalid"
echo "== a scratch repository: $scratch"
echo '$ gitreg init'
gitreg init
echo
echo "== the pipeline author's side: examples/iris/run.py (three training runs, promotion, inference)"
echo '$ python examples/iris/run.py'
python "$here/examples/iris/run.py"
run() { echo; echo "\$ $*"; "$@"; }
run gitreg model list
run gitreg model version list iris_classifier
run gitreg model version model_artifacts iris_classifier production
run gitreg model version runs iris_classifier production
run gitreg run describe "$(git log -1 --format=%s --grep='^run training_pipeline' | cut -d' ' -f2 | tr -d :)"
run gitreg artifact get iris_classifier production trained_model --to model.skops
run gitreg check
echo
echo "== promotion by pull request: propose, review, merge, tag"
run gitreg model version update iris_classifier 2 -s staging --propose -m "second opinion on v2"
run git diff main gitreg/promote/iris_classifier-v2-staging -- .mcp/models/iris_classifier/versions
run gitreg check --base main --rev gitreg/promote/iris_classifier-v2-staging
# a squash merge, as a git host makes it: the pull request's title, the branch's message as the body
git merge -q --squash gitreg/promote/iris_classifier-v2-staging >/dev/null
git commit -q -m "Stage iris_classifier v2 (#1)" \
  -m "* $(git log -1 --format=%B gitreg/promote/iris_classifier-v2-staging)"
echo; echo '$ git merge --squash gitreg/promote/iris_classifier-v2-staging && git commit ...   # the reviewed pull request, squash-merged'
run gitreg tags sync
run gitreg model version history iris_classifier
echo
echo "== and plain git tells the same story"
run git log --oneline -8
run git tag -l 'models/iris_classifier/*'
run git for-each-ref --format='%(refname:short)  %(taggerdate:iso)  %(subject)' 'refs/tags/models/iris_classifier/'
run git show --no-patch models/iris_classifier/production/1
echo
echo "== the registry as web pages"
run gitreg model version compare iris_classifier 1 2 3
site_index="$(gitreg site build --to "$scratch/site")"
echo "The site is built: open $site_index (or run \`gitreg ui\` in $scratch to serve it)."
echo
echo "The scratch registry stays in $scratch for you to explore."
