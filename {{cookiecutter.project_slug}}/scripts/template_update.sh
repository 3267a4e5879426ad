#!/usr/bin/env bash
# Template updates as one pull request, in two steps that share only a folder of data
# (.github/workflows/template-update.yml runs each in its own job):
#
#   scripts/template_update.sh apply DIR     cruft update: the template's changes since the commit recorded in
#                                            .cruft.json, merged three-way into the work tree (conflicts stay as
#                                            markers); without conflicts, the project locked again and its tests run
#                                            (CHECK); writes the whole update to DIR/update.patch (empty when the
#                                            project is current), the pull request's description to
#                                            DIR/pull-request.md and the check's output to DIR/check.log
#   scripts/template_update.sh propose DIR   commit DIR/update.patch on top of HEAD as the branch template-update,
#                                            push it, and open its pull request or refresh the open one; nothing at
#                                            all when the patch is empty
#
# `apply` runs the template's code (cruft renders it and runs its hooks) and needs no token. `propose` needs GH_TOKEN
# (for gh and, through gh, git push) and handles the patch as data only: it builds the commit in a throwaway index, so
# no file of the update reaches the work tree, and runs git without hooks. Run it from a checkout of the base branch,
# not from the work tree `apply` changed. BRANCH (default template-update), BASE_BRANCH (default: the current branch)
# CRUFT (default: uvx --from cruft==2.16.0 cruft) and CHECK (default: lock, export and install what the updated
# pyproject.toml asks for, then make test) can be set. On a workstation, `apply DIR` alone leaves the update in the work
# tree to review and commit by hand.
# Backticks inside single quotes are Markdown for the pull request, not command substitutions.
# shellcheck disable=SC2016
set -euo pipefail

cd "$(dirname "$0")/.."

BRANCH=${BRANCH:-template-update}
read -r -a CRUFT_COMMAND <<<"${CRUFT:-uvx --from cruft==2.16.0 cruft}"
# cruft never touches uv.lock or requirements.txt ([tool.cruft] skip): the update is locked again here, so the pull
# request holds what its tests ran with.
CHECK=${CHECK:-uv lock --quiet && make requirements && uv sync --frozen --quiet && make test}
TEAM_MIGRATIONS=migrations/versions
TEMPLATE_MIGRATIONS=migrations/template_versions
GIT_AUTHOR=(-c "user.name=github-actions[bot]" -c "user.email=41898282+github-actions[bot]@users.noreply.github.com")
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

usage() {
  sed -n '2,21p' "$0" >&2
  exit 2
}

log() {
  printf '%s\n' "$*"
}

fail() {
  printf '::error::%s\n' "$*" >&2
  exit 1
}

# git as propose runs it: the update may come from anywhere, so no hook (pre-push, reference-transaction, ...) runs.
git_without_hooks() {
  git -c core.hooksPath=/dev/null "$@"
}

# A field of .cruft.json, read from standard input.
cruft_field() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# The answers of two .cruft.json files (the last update's, then this one's) compared, as Markdown: the answers the
# template added since, with the value cruft applied (the default), the answers it no longer asks, and where its
# upgrade notes are. Values are shown as JSON, a backtick escaped so that no value can end its code span.
answer_changes() {
  python3 - "$1" "$2" <<'PY'
import json
import re
import sys

def shown(value):
    return json.dumps(value, ensure_ascii=False).replace("`", "\\u0060")

def answers(path):
    with open(path, encoding="utf-8") as file:
        state = json.load(file)
    return {key: value for key, value in state["context"]["cookiecutter"].items() if not key.startswith("_")}, state

(before, _), (after, state) = answers(sys.argv[1]), answers(sys.argv[2])
added = [key for key in after if key not in before]
removed = [key for key in before if key not in after]
if added:
    print("**New answers.** The template asks these since this project's last update; cruft applied the value shown"
          " (the template's default), which may change what this project deploys:\n")
    for key in added:
        print(f"- `{key}`: `{shown(after[key])}`")
    print("\nTo keep another value, run `uvx cruft update --variables-to-update '{\"<answer>\": \"<value>\"}'` once"
          " this is merged.\n")
if removed:
    print("**Answers no longer asked** (now settings with defaults, or gone; the template's notes say which):\n")
    for key in removed:
        print(f"- `{key}` (was `{shown(before[key])}`)")
    print()
github = re.fullmatch(r"(?:https://github\.com/|git@github\.com:)([^/]+/[^/]+?)(?:\.git)?/?", state["template"])
notes = f"https://github.com/{github[1]}/blob/{state['commit']}/CHANGELOG.md" if github else None
where = f"[CHANGELOG.md]({notes})" if notes else f"`CHANGELOG.md` in {state['template']} at `{state['commit']}`"
print(f"What changed and what a project must do about it: the **Upgrading** notes of the template's {where}.\n")
PY
}

bullets() {
  local item
  for item in "$@"; do
    printf -- '- `%s`\n' "$item"
  done
}

# Template revisions that older versions of the template wrote to the team's folder arrive again in their own: the
# old copies go (Alembic would read each revision twice). Fills the removed_copies array of apply.
remove_template_revisions_kept_twice() {
  local revision
  for revision in "$TEMPLATE_MIGRATIONS"/*.py; do
    [[ -f $revision && -f $TEAM_MIGRATIONS/${revision##*/} ]] || continue
    rm -- "$TEAM_MIGRATIONS/${revision##*/}"
    removed_copies+=("$TEAM_MIGRATIONS/${revision##*/}")
  done
}

# The check (CHECK) of an update without conflicts; fills check_result of apply, its output in $1.
check_update() {
  local log=$1 outcome
  if ((${#conflicted[@]} + ${#rejected[@]})); then
    check_result="not run: resolve the conflicts first, then run \`make test\`."
    return 0
  fi
  if bash -c "$CHECK" >"$log" 2>&1; then
    outcome=passed
  else
    outcome=failed
  fi
  # pytest's last line, e.g. "246 passed, 7 skipped in 60.57s"; the whole output is in the apply job's log.
  check_result="$outcome ($(grep -E '^=+ .* in [0-9.]+s.* =+$' "$log" | tail -n 1 | tr -d '=' | xargs)): \`$CHECK\`."
  log "The check $outcome; its output:"
  cat "$log"
}

# The pull request's description; reads the conflicted, rejected, changed, arrived and removed_copies arrays and
# check_result of apply. previous_state is the .cruft.json of the last update.
write_body() {
  local template=$1 from=$2 to=$3 previous_state=$4
  printf 'Changes of the template %s from `%s` to `%s`, merged three-way with this project by `cruft update`\n' \
    "$template" "$from" "$to"
  printf '(scripts/template_update.sh).\n\n'
  answer_changes "$previous_state" .cruft.json
  if ((${#conflicted[@]})); then
    printf '**Conflicts to resolve.** The template and this project changed the same lines; both sides are kept'
    printf ' between conflict markers in:\n\n'
    bullets "${conflicted[@]}"
    printf '\n'
  else
    printf 'No conflicts.\n\n'
  fi
  if ((${#rejected[@]})); then
    printf '**Changes cruft could not place** (apply them by hand, then delete these files):\n\n'
    bullets "${rejected[@]}"
    printf '\n'
  fi
  printf '**Tests** of the updated project: %s\n\n' "$check_result"
  if ((${#arrived[@]})); then
    printf '**Migrations from the template.** This update brings:\n\n'
    bullets "${arrived[@]}"
    printf '\nAfter merging, run `make migrate` on each local database; deployed stages run them on their next'
    printf ' deploy (`make -C infra migrate-<stage>`). Where the project has migrations of its own, Alembic has two'
    printf ' heads until the next `alembic revision`, which joins them; `make migrate` upgrades both.\n\n'
  fi
  if ((${#removed_copies[@]})); then
    printf '**Old copies removed.** Older versions of the template wrote these revisions to `%s`; they now arrive' \
      "$TEAM_MIGRATIONS"
    printf ' in `%s`, so this update deletes the old copies (the revisions and the databases stay as they are):\n\n' \
      "$TEMPLATE_MIGRATIONS"
    bullets "${removed_copies[@]}"
    printf '\n'
  fi
  printf 'Before merging:\n\n'
  if ((${#conflicted[@]})); then
    printf -- '- Check out this branch, resolve every conflict marker (`git grep -n -E "^(<<<<<<<|>>>>>>>) "`)'
    printf ' and commit.\n'
  fi
  if [[ $check_result == not\ run* ]] && printf '%s\n' "${changed[@]}" | grep -qx pyproject.toml; then
    printf -- '- `pyproject.toml` changed: run `uv lock && make install && make requirements` and commit the'
    printf ' result (cruft never touches `uv.lock` or `requirements.txt`).\n'
  fi
  printf -- '- Read changes to `.github/workflows/`, `infra/` and `scripts/` closely: they run with deploy'
  printf ' credentials.\n'
  printf -- '- Let CI pass. A pull request opened with the default token starts no workflow: close and reopen it to'
  printf ' run CI, or set TEMPLATE_UPDATE_TOKEN.\n'
}

apply() {
  local out=$1 patch=$1/update.patch index=$SCRATCH/index
  local -a conflicted rejected changed arrived removed_copies=()
  local check_result
  mkdir -p "$out"
  rm -f "$out/pull-request.md"
  : >"$patch"
  if [[ ! -f .cruft.json ]]; then
    log "No .cruft.json: this project was not created with cruft (cruft create), so it records no template" \
      "commit to update from. Nothing to do."
    return 0
  fi
  if [[ -n $(git status --porcelain) ]]; then
    fail "The work tree has uncommitted changes; apply runs on a clean checkout."
  fi
  # The post-generation hook would lock and sync dependencies inside cruft's temporary renders; what it writes is in
  # [tool.cruft] skip anyway.
  CHALLENGE_BACKEND_SKIP_UV=1 "${CRUFT_COMMAND[@]}" update --skip-apply-ask
  mapfile -t conflicted < <(git diff --name-only --diff-filter=U)
  mapfile -t rejected < <(git ls-files --others --exclude-standard -- '*.rej')
  remove_template_revisions_kept_twice
  check_update "$out/check.log"

  # Everything a commit of the work tree would hold (conflicted files with their markers, new files), staged in a
  # throwaway index so the work tree and its conflict state stay as cruft left them. Plumbing diff ignores the user's
  # diff settings (colour, prefixes, textconv); --binary keeps non-text files.
  GIT_INDEX_FILE=$index git read-tree HEAD
  GIT_INDEX_FILE=$index git add --all
  GIT_INDEX_FILE=$index git diff-index --cached --patch --binary HEAD >"$patch"
  if [[ ! -s $patch ]]; then
    log "The project is current with its template: no branch, no pull request."
    return 0
  fi
  mapfile -t changed < <(GIT_INDEX_FILE=$index git diff-index --cached --name-only HEAD)
  mapfile -t arrived < <(GIT_INDEX_FILE=$index git diff-index --cached --name-only --diff-filter=A HEAD -- \
    "$TEMPLATE_MIGRATIONS/*.py")
  git show HEAD:.cruft.json >"$SCRATCH/previous.cruft.json"
  write_body "$(cruft_field template <.cruft.json)" "$(cruft_field commit <"$SCRATCH/previous.cruft.json")" \
    "$(cruft_field commit <.cruft.json)" "$SCRATCH/previous.cruft.json" >"$out/pull-request.md"
  log "The update is in $patch (${#changed[@]} files); its pull request's description in $out/pull-request.md."
  if ((${#conflicted[@]})); then
    log "With conflicts in: ${conflicted[*]}"
  fi
}

# Whether the remote branch already holds exactly this tree, so a run with nothing new pushes nothing (no new CI
# run, no notification).
remote_branch_matches() {
  local tree=$1
  git_without_hooks fetch --quiet origin "+refs/heads/$BRANCH:refs/remotes/origin/$BRANCH" 2>/dev/null || return 1
  [[ $(git rev-parse "refs/remotes/origin/$BRANCH^{tree}") == "$tree" ]]
}

push_branch() {
  local commit=$1
  if git_without_hooks push --quiet --force origin "$commit:refs/heads/$BRANCH"; then
    return 0
  fi
  if [[ -n $(git diff --name-only HEAD "$commit" -- .github/workflows) ]]; then
    fail "Could not push $BRANCH. The update changes workflow files, which the default GITHUB_TOKEN may not push:" \
      "set the TEMPLATE_UPDATE_TOKEN secret (a GitHub App or fine-grained token with contents, pull requests and" \
      "workflows write access; see the README)."
  fi
  fail "Could not push $BRANCH (see the git error above)."
}

propose() {
  local patch=$1/update.patch body=$1/pull-request.md index=$SCRATCH/index base from to title tree commit number
  if [[ ! -s $patch ]]; then
    log "The project is current with its template: no branch, no pull request."
    return 0
  fi
  [[ -f $body ]] || fail "$body is missing: run apply first, which writes it beside $patch."
  base=${BASE_BRANCH:-$(git rev-parse --abbrev-ref HEAD)}

  # The update's tree from HEAD and the patch, in a throwaway index: the work tree, this script included, stays as
  # the base branch has it.
  GIT_INDEX_FILE=$index git_without_hooks read-tree HEAD
  GIT_INDEX_FILE=$index git_without_hooks apply --cached --whitespace=nowarn "$patch"
  tree=$(GIT_INDEX_FILE=$index git_without_hooks write-tree)
  from=$(git show HEAD:.cruft.json | cruft_field commit)
  to=$(git show "$tree:.cruft.json" | cruft_field commit)
  title="Update from the template (${from:0:7} -> ${to:0:7})"
  commit=$(git_without_hooks "${GIT_AUTHOR[@]}" commit-tree "$tree" -p HEAD -m "$title")

  gh auth setup-git
  if remote_branch_matches "$tree"; then
    log "origin/$BRANCH already holds this update; not pushed again."
  else
    push_branch "$commit"
  fi
  number=$(gh pr list --head "$BRANCH" --base "$base" --state open --json number --jq '.[0].number // empty')
  if [[ -n $number ]]; then
    gh pr edit "$number" --title "$title" --body-file "$body"
    log "Refreshed pull request #$number: $title"
  else
    gh pr create --head "$BRANCH" --base "$base" --title "$title" --body-file "$body"
    log "Opened a pull request: $title"
  fi
}

case "${1:-}" in
  apply)
    [[ $# -eq 2 && -n $2 ]] || usage
    apply "$2"
    ;;
  propose)
    [[ $# -eq 2 && -n $2 ]] || usage
    propose "$2"
    ;;
  *)
    usage
    ;;
esac
