#!/usr/bin/env bash
# Deploys the Rally MCP server to Google Cloud (Cloud Functions gen2 behind
# Firebase Hosting). Idempotent: every resource is checked before it is
# created, so a second run only redeploys code. See docs/deploy.md.
#
#   ./deploy.sh --project P --region R [--dry-run]      provision + deploy
#   ./deploy.sh rotate-key sealing|signing --project P  new key version, redeploy
#   ./deploy.sh teardown --project P --yes              delete what deploy created
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly ROOT
readonly FUNCTIONS=(mcp authorization oauthCallback protectedResourceMetadata)
readonly METRICS=(tool_executions tool_latency_ms sign_ins rate_limited)
readonly DASHBOARD_NAME='Rally MCP'
readonly APIS=(
  cloudfunctions.googleapis.com run.googleapis.com cloudbuild.googleapis.com
  artifactregistry.googleapis.com firestore.googleapis.com secretmanager.googleapis.com
  iam.googleapis.com logging.googleapis.com monitoring.googleapis.com
  firebase.googleapis.com firebasehosting.googleapis.com firebaserules.googleapis.com
)

usage() {
  cat <<'EOF'
Usage: ./deploy.sh [deploy|rotate-key sealing|signing|teardown] [options]

Commands:
  deploy (default)        Provision everything (idempotent) and deploy the four functions.
  rotate-key KIND         Add a new version of the sealing or signing key, then redeploy
                          with it first in SEALING_KEY_VERSIONS / SIGNING_KEY_VERSIONS.
  teardown                Delete functions, hosting, metrics, dashboard, secrets and the
                          service account (needs --yes). Keeps Firestore unless --delete-database.

Options (each also settable in deploy.env, see deploy.example.env):
  --project ID                  GCP project id                        (GCP_PROJECT)
  --region REGION               Functions region, e.g. us-central1    (GCP_REGION)
  --firestore-location LOC      Firestore location (default: region)  (FIRESTORE_LOCATION)
  --public-base-url URL         Public origin (default https://<project>.web.app) (PUBLIC_BASE_URL)
  --rally-base-url URL          Rally origin (default https://rally1.rallydev.com) (RALLY_BASE_URL)
  --rally-client-id ID          Rally OAuth client id                 (RALLY_CLIENT_ID)
  --rally-client-secret-file F  File holding the Rally client secret; without it the secret is
                                prompted (hidden) when it is not yet in Secret Manager
                                                                      (RALLY_CLIENT_SECRET_FILE)
  --github-client-id ID         GitHub OAuth client id: turns GitHub on beside Rally
                                (UPSTREAM_PROVIDERS=rally,github)     (GITHUB_CLIENT_ID)
  --github-client-secret-file F File holding the GitHub client secret; without it the secret is
                                prompted (hidden) when it is not yet in Secret Manager
                                                                      (GITHUB_CLIENT_SECRET_FILE)
  --session-link-mode           Turn on session-link mode             (SESSION_LINK_MODE=true)
  --no-connection-tokens        Turn off connection tokens for headless agents
                                                                      (CONNECTION_TOKENS=false)
  --connection-token-max-days N Longest connection-token lifetime, 1-365 (default 90)
                                                                      (CONNECTION_TOKEN_MAX_DAYS)
  --min-instances N             Warm instances for the mcp function (0 or 1; default 0)
                                                                      (MCP_MIN_INSTANCES)
  --no-dashboard                Skip the Cloud Monitoring dashboard   (DEPLOY_DASHBOARD=false)
  --secret-source S             How functions get secrets: mounted (default; Cloud Run mounts
                                the pinned versions as files) or secret-manager (the client
                                library reads them)                   (SECRET_SOURCE)
  --env-file FILE               Settings file (default: ./deploy.env)
  --dry-run                     Print every command, in order, and run none of them.
                                Checks are assumed to find nothing (an empty project).
  --yes                         Confirm teardown.
  --delete-database             Teardown also deletes the Firestore database (all data).
  -h, --help                    This help.
EOF
}

die() { printf 'deploy.sh: %s\n' "$*" >&2; exit 1; }
note() { printf '# %s\n' "$*" >&3; }

# ---------------------------------------------------------------- arguments
COMMAND=deploy
KEY_KIND=''
DRY_RUN=false
CONFIRMED=false
DELETE_DATABASE=false
ENV_FILE="${ROOT}/deploy.env"
declare -A FLAG=()

if [[ $# -gt 0 && $1 != -* ]]; then
  COMMAND=$1; shift
  case $COMMAND in
    deploy | teardown) ;;
    rotate-key)
      [[ $# -gt 0 ]] || die 'rotate-key needs sealing or signing'
      KEY_KIND=$1; shift
      [[ $KEY_KIND == sealing || $KEY_KIND == signing ]] || die "rotate-key: unknown key '${KEY_KIND}' (sealing|signing)"
      ;;
    help) usage; exit 0 ;;
    *) die "unknown command '${COMMAND}' (see --help)" ;;
  esac
fi

need_value() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --project) need_value "$@"; FLAG[GCP_PROJECT]=$2; shift 2 ;;
    --region) need_value "$@"; FLAG[GCP_REGION]=$2; shift 2 ;;
    --firestore-location) need_value "$@"; FLAG[FIRESTORE_LOCATION]=$2; shift 2 ;;
    --public-base-url) need_value "$@"; FLAG[PUBLIC_BASE_URL]=$2; shift 2 ;;
    --rally-base-url) need_value "$@"; FLAG[RALLY_BASE_URL]=$2; shift 2 ;;
    --rally-client-id) need_value "$@"; FLAG[RALLY_CLIENT_ID]=$2; shift 2 ;;
    --rally-client-secret-file) need_value "$@"; FLAG[RALLY_CLIENT_SECRET_FILE]=$2; shift 2 ;;
    --github-client-id) need_value "$@"; FLAG[GITHUB_CLIENT_ID]=$2; shift 2 ;;
    --github-client-secret-file) need_value "$@"; FLAG[GITHUB_CLIENT_SECRET_FILE]=$2; shift 2 ;;
    --min-instances) need_value "$@"; FLAG[MCP_MIN_INSTANCES]=$2; shift 2 ;;
    --session-link-mode) FLAG[SESSION_LINK_MODE]=true; shift ;;
    --no-connection-tokens) FLAG[CONNECTION_TOKENS]=false; shift ;;
    --connection-token-max-days) need_value "$@"; FLAG[CONNECTION_TOKEN_MAX_DAYS]=$2; shift 2 ;;
    --no-dashboard) FLAG[DEPLOY_DASHBOARD]=false; shift ;;
    --secret-source) need_value "$@"; FLAG[SECRET_SOURCE]=$2; shift 2 ;;
    --env-file) need_value "$@"; ENV_FILE=$2; shift 2 ;;
    --dry-run) DRY_RUN=true; shift ;;
    --yes) CONFIRMED=true; shift ;;
    --delete-database) DELETE_DATABASE=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

# ---------------------------------------------------------------- settings
readonly SETTINGS=(GCP_PROJECT GCP_REGION FIRESTORE_LOCATION PUBLIC_BASE_URL RALLY_BASE_URL
  RALLY_CLIENT_ID RALLY_CLIENT_SECRET_FILE SESSION_LINK_MODE MCP_MIN_INSTANCES DEPLOY_DASHBOARD SECRET_SOURCE
  CONNECTION_TOKENS CONNECTION_TOKEN_MAX_DAYS
  SERVICE_ACCOUNT_NAME RALLY_CLIENT_SECRET_NAME SEALING_KEY_NAME SIGNING_KEY_NAME
  GITHUB_CLIENT_ID GITHUB_CLIENT_SECRET_FILE GITHUB_CLIENT_SECRET_NAME GITHUB_AUTHORIZE_BASE_URL GITHUB_API_BASE_URL
  GITHUB_SCOPES ALLOWED_ORIGINS LOG_LEVEL FIREBASE_TOOLS_VERSION)
declare -A FILE_SETTING=()

# deploy.env is parsed, never sourced: only KEY=VALUE lines for known keys.
if [[ -f $ENV_FILE ]]; then
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    [[ $line =~ ^[[:space:]]*([A-Z_]+)=(.*)$ ]] || die "${ENV_FILE}: cannot parse line: ${line%%=*}="
    key=${BASH_REMATCH[1]}; value=${BASH_REMATCH[2]}
    [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]] && value=${BASH_REMATCH[1]}
    [[ " ${SETTINGS[*]} " == *" ${key} "* ]] || die "${ENV_FILE}: unknown setting ${key}"
    FILE_SETTING[$key]=$value
  done <"$ENV_FILE"
fi

# flag > deploy.env > default
setting() { local k=$1 d=${2-}; printf '%s' "${FLAG[$k]-${FILE_SETTING[$k]-$d}}"; }

PROJECT=$(setting GCP_PROJECT)
REGION=$(setting GCP_REGION)
[[ -n $PROJECT ]] || die '--project (or GCP_PROJECT in deploy.env) is required'
[[ $PROJECT =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] || die "not a GCP project id: ${PROJECT}"
[[ -n $REGION ]] || die '--region (or GCP_REGION in deploy.env) is required'
[[ $REGION =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || die "not a GCP region: ${REGION}"
FIRESTORE_LOCATION=$(setting FIRESTORE_LOCATION "$REGION")
PUBLIC_BASE_URL=$(setting PUBLIC_BASE_URL "https://${PROJECT}.web.app")
PUBLIC_BASE_URL=${PUBLIC_BASE_URL%/}
[[ $PUBLIC_BASE_URL =~ ^https://[^/?#]+$ ]] || die "PUBLIC_BASE_URL must be an https origin: ${PUBLIC_BASE_URL}"
RALLY_BASE_URL=$(setting RALLY_BASE_URL https://rally1.rallydev.com)
RALLY_CLIENT_ID=$(setting RALLY_CLIENT_ID)
RALLY_CLIENT_SECRET_FILE=$(setting RALLY_CLIENT_SECRET_FILE)
# GitHub (issue 19) is on exactly when its client id is given.
GITHUB_CLIENT_ID=$(setting GITHUB_CLIENT_ID)
GITHUB_CLIENT_SECRET_FILE=$(setting GITHUB_CLIENT_SECRET_FILE)
GITHUB_AUTHORIZE_BASE_URL=$(setting GITHUB_AUTHORIZE_BASE_URL https://github.com)
GITHUB_AUTHORIZE_BASE_URL=${GITHUB_AUTHORIZE_BASE_URL%/}
GITHUB_API_BASE_URL=$(setting GITHUB_API_BASE_URL https://api.github.com)
GITHUB_API_BASE_URL=${GITHUB_API_BASE_URL%/}
GITHUB_SCOPES=$(setting GITHUB_SCOPES 'repo read:user')
if [[ -n $GITHUB_CLIENT_ID ]]; then UPSTREAM_PROVIDERS=rally,github; else UPSTREAM_PROVIDERS=rally; fi
SESSION_LINK_MODE=$(setting SESSION_LINK_MODE false)
[[ $SESSION_LINK_MODE == true || $SESSION_LINK_MODE == false ]] || die 'SESSION_LINK_MODE must be true or false'
CONNECTION_TOKENS=$(setting CONNECTION_TOKENS true)
[[ $CONNECTION_TOKENS == true || $CONNECTION_TOKENS == false ]] || die 'CONNECTION_TOKENS must be true or false'
CONNECTION_TOKEN_MAX_DAYS=$(setting CONNECTION_TOKEN_MAX_DAYS 90)
[[ $CONNECTION_TOKEN_MAX_DAYS =~ ^[1-9][0-9]{0,2}$ && $CONNECTION_TOKEN_MAX_DAYS -le 365 ]] ||
  die '--connection-token-max-days must be a whole number of days, 1 to 365'
MCP_MIN_INSTANCES=$(setting MCP_MIN_INSTANCES 0)
[[ $MCP_MIN_INSTANCES =~ ^[01]$ ]] || die '--min-instances must be 0 or 1'
DEPLOY_DASHBOARD=$(setting DEPLOY_DASHBOARD true)
SECRET_SOURCE=$(setting SECRET_SOURCE mounted)
[[ $SECRET_SOURCE == mounted || $SECRET_SOURCE == secret-manager ]] || die '--secret-source must be mounted or secret-manager'
readonly SECRETS_MOUNT=/etc/secrets
SA_NAME=$(setting SERVICE_ACCOUNT_NAME rally-mcp-fn)
SA_EMAIL="${SA_NAME}@${PROJECT}.iam.gserviceaccount.com"
RALLY_SECRET=$(setting RALLY_CLIENT_SECRET_NAME rally-client-secret)
GITHUB_SECRET=$(setting GITHUB_CLIENT_SECRET_NAME github-client-secret)
SEALING_SECRET=$(setting SEALING_KEY_NAME rally-mcp-sealing-key)
SIGNING_SECRET=$(setting SIGNING_KEY_NAME rally-mcp-signing-key)
ALLOWED_ORIGINS=$(setting ALLOWED_ORIGINS)
LOG_LEVEL=$(setting LOG_LEVEL info)
FIREBASE_TOOLS_VERSION=$(setting FIREBASE_TOOLS_VERSION 14)
readonly DATABASE='(default)'
NODE="${ROOT}/node_modules/.bin/node"

if [[ -z $RALLY_CLIENT_ID && $COMMAND != teardown ]]; then
  $DRY_RUN || die '--rally-client-id (or RALLY_CLIENT_ID in deploy.env) is required'
  RALLY_CLIENT_ID='<rally-client-id>'
fi
if [[ -n $RALLY_CLIENT_SECRET_FILE && ! -r $RALLY_CLIENT_SECRET_FILE ]] && ! $DRY_RUN; then
  die "cannot read the Rally client secret file ${RALLY_CLIENT_SECRET_FILE}"
fi
if [[ -n $GITHUB_CLIENT_SECRET_FILE && ! -r $GITHUB_CLIENT_SECRET_FILE ]] && ! $DRY_RUN; then
  die "cannot read the GitHub client secret file ${GITHUB_CLIENT_SECRET_FILE}"
fi
[[ -z $GITHUB_CLIENT_SECRET_FILE || -n $GITHUB_CLIENT_ID ]] || die '--github-client-secret-file needs --github-client-id'
[[ $GITHUB_AUTHORIZE_BASE_URL =~ ^https://[^?#]+$ && $GITHUB_API_BASE_URL =~ ^https://[^?#]+$ ]] ||
  die 'GITHUB_AUTHORIZE_BASE_URL and GITHUB_API_BASE_URL must be https URLs'
[[ $GITHUB_SCOPES =~ ^[a-z:_-]+( [a-z:_-]+)*$ ]] || die "GITHUB_SCOPES must be space-separated GitHub scope names: ${GITHUB_SCOPES}"
# Env var values travel in one --set-env-vars list with ';' as delimiter.
for v in "$PUBLIC_BASE_URL" "$RALLY_BASE_URL" "$RALLY_CLIENT_ID" "$GITHUB_CLIENT_ID" "$ALLOWED_ORIGINS"; do
  [[ $v != *';'* ]] || die "settings must not contain ';': ${v}"
done

# ---------------------------------------------------------------- runner
# Every command is printed before it runs (to fd 3 = stdout). Words are
# single-quoted when needed, so a printed line can be pasted into bash.
exec 3>&1
quote() {
  if [[ $1 =~ ^[A-Za-z0-9_./:=@,%+-]+$ ]]; then printf '%s' "$1"; else printf "'%s'" "${1//\'/\'\\\'\'}"; fi
}
show() {
  local out='+' w
  for w in "$@"; do
    case $w in
      '|' | '<' | '&&') out+=" $w" ;; # shell operators of a displayed pipeline
      *) out+=" $(quote "$w")" ;;
    esac
  done
  printf '%s\n' "$out" >&3
}

# A mutating command: printed, then run unless --dry-run.
run() { show "$@"; $DRY_RUN || "$@"; }

# A read-only check: printed; in --dry-run it finds nothing (returns 1).
# Its stdout is the caller's result, so nothing else may write to stdout here.
query() {
  show "$@"
  if $DRY_RUN; then return 1; fi
  "$@" 2>/dev/null
}

# IAM writes right after creating a service account can race its propagation.
run_retrying() {
  show "$@"
  $DRY_RUN && return 0
  local attempt
  for attempt in 1 2 3 4 5; do
    if "$@" >/dev/null; then return 0; fi
    printf 'deploy.sh: attempt %s failed, retrying in %ss\n' "$attempt" $((attempt * 5)) >&2
    sleep $((attempt * 5))
  done
  die "giving up on: $*"
}

# Deletions in teardown: a missing resource is not an error.
run_tolerant() { show "$@"; $DRY_RUN || "$@" || printf 'deploy.sh: (ignored) %s failed\n' "$2" >&2; }

G=(gcloud --project="$PROJECT")

# ---------------------------------------------------------------- steps
step() { printf '\n# == %s\n' "$*" >&3; }

preflight() {
  if $DRY_RUN; then
    note "dry run for project ${PROJECT}, region ${REGION}: no command is executed;"
    note "every check is assumed to find nothing (an empty project), new secrets get version 1."
    return
  fi
  command -v gcloud >/dev/null || die 'gcloud not found (install the Google Cloud CLI)'
  [[ -x $NODE ]] || die "${NODE} not found: run npm ci first"
  local account
  account=$(gcloud auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null || true)
  [[ -n $account ]] || die 'no active gcloud account: run gcloud auth login (and gcloud auth application-default login for firebase-tools)'
}

enable_apis() {
  step 'APIs'
  local enabled missing=() api
  enabled=$(query "${G[@]}" services list --enabled --format='value(config.name)') || enabled=''
  for api in "${APIS[@]}"; do
    grep -qxF "$api" <<<"$enabled" || missing+=("$api")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then run "${G[@]}" services enable "${missing[@]}"; fi
}

ensure_database() {
  step 'Firestore database (Native mode)'
  if ! query "${G[@]}" firestore databases describe --database="$DATABASE" --format='value(name)' >/dev/null; then
    run "${G[@]}" firestore databases create --database="$DATABASE" --location="$FIRESTORE_LOCATION" --type=firestore-native
  fi
}

# Prints "collection<TAB>field<TAB>ttl(0|1)<TAB>exempt(0|1)" from the committed
# firestore.indexes.json, which test/deploy checks against COLLECTIONS.
field_plan() {
  # shellcheck disable=SC2016 # JavaScript template literal, not a shell expansion
  "$NODE" -e '
    const cfg = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const o of cfg.fieldOverrides ?? []) {
      const exempt = Array.isArray(o.indexes) && o.indexes.length === 0;
      console.log(`${o.collectionGroup}\t${o.fieldPath}\t${o.ttl ? 1 : 0}\t${exempt ? 1 : 0}`);
    }' "${ROOT}/firestore.indexes.json"
}

ensure_fields() {
  step 'Firestore TTL policies and single-field index exemptions'
  local collection field ttl exempt plan state ttl_state ancestor
  plan=$(field_plan)
  while IFS=$'\t' read -r collection field ttl exempt; do
    state=$(query "${G[@]}" firestore indexes fields describe "$field" --collection-group="$collection" \
      --database="$DATABASE" --format='value[separator="|"](ttlConfig.state,indexConfig.usesAncestorConfig)') || state=''
    IFS='|' read -r ttl_state ancestor <<<"$state"
    if [[ $ttl == 1 && $ttl_state != ACTIVE && $ttl_state != CREATING ]]; then
      run "${G[@]}" firestore fields ttls update "$field" --collection-group="$collection" --database="$DATABASE" --enable-ttl --async
    fi
    # An exempted field stops inheriting the automatic single-field indexes.
    if [[ $exempt == 1 && $ancestor != False ]]; then
      run "${G[@]}" firestore indexes fields update "$field" --collection-group="$collection" --database="$DATABASE" --disable-indexes --async
    fi
  done <<<"$plan"
}

ensure_service_account() {
  step 'Service account (runtime identity of the functions)'
  if ! query "${G[@]}" iam service-accounts describe "$SA_EMAIL" --format='value(email)' >/dev/null; then
    run "${G[@]}" iam service-accounts create "$SA_NAME" --display-name='Rally MCP functions'
  fi
  local role has
  for role in roles/datastore.user roles/logging.logWriter; do
    has=$(query "${G[@]}" projects get-iam-policy "$PROJECT" --flatten='bindings[].members' \
      --filter="bindings.role=\"${role}\" AND bindings.members=\"serviceAccount:${SA_EMAIL}\"" --format='value(bindings.role)') || has=''
    if [[ -z $has ]]; then
      run_retrying "${G[@]}" projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:${SA_EMAIL}" --role="$role" --condition=None
    fi
  done
}

# Enabled versions of a secret, newest first, one per line.
declare -A DRY_VERSIONS=()
enabled_versions() {
  local name=$1 out
  if $DRY_RUN; then
    show "${G[@]}" secrets versions list "$name" --filter=state:ENABLED --format='value(name.basename())'
    [[ -n ${DRY_VERSIONS[$name]-} ]] && tr ',' '\n' <<<"${DRY_VERSIONS[$name]}"
    return 0
  fi
  out=$("${G[@]}" secrets versions list "$name" --filter=state:ENABLED --format='value(name.basename())' 2>/dev/null) || out=''
  [[ -n $out ]] && sort -rn <<<"$out"
  return 0
}
dry_add_version() {
  local name=$1 newest
  $DRY_RUN || return 0
  newest=$(cut -d, -f1 <<<"${DRY_VERSIONS[$name]:-0}")
  DRY_VERSIONS[$name]="$((newest + 1))${DRY_VERSIONS[$name]:+,${DRY_VERSIONS[$name]}}"
}

# Secret payloads go from the generator (or file, or prompt) straight into
# gcloud's stdin (--data-file=-): never an argument, a variable or a log line.
SEALING_KEY_JS='process.stdout.write(require("crypto").randomBytes(32).toString("base64url"))'
SIGNING_KEY_JS='process.stdout.write(JSON.stringify(require("crypto").generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" })))'

add_generated_version() {
  local name=$1 js=$2
  show "$NODE" -e "$js" '|' "${G[@]}" secrets versions add "$name" --data-file=-
  dry_add_version "$name"
  $DRY_RUN && return 0
  "$NODE" -e "$js" | "${G[@]}" secrets versions add "$name" --data-file=- >/dev/null
}

# An upstream provider's OAuth client secret (Rally, GitHub): from its file, else prompted hidden.
add_client_secret_version() {
  local name=$1 label=$2 file=$3 flag=$4
  if [[ -n $file ]]; then
    show "${G[@]}" secrets versions add "$name" --data-file=- '<' "$file"
    dry_add_version "$name"
    $DRY_RUN && return 0
    "${G[@]}" secrets versions add "$name" --data-file=- <"$file" >/dev/null
    return 0
  fi
  printf '%s\n' "$(show "${G[@]}" secrets versions add "$name" --data-file=- 3>&1)  # stdin: ${label} client secret, read hidden with read -s" >&3
  dry_add_version "$name"
  $DRY_RUN && return 0
  [[ -t 0 ]] || die "the ${label} client secret is not in Secret Manager yet: pass ${flag} or run in a terminal"
  local secret=''
  IFS= read -rs -p "${label} OAuth client secret (input hidden): " secret
  printf '\n' >&2
  [[ -n $secret ]] || die "empty ${label} client secret"
  printf '%s' "$secret" | "${G[@]}" secrets versions add "$name" --data-file=- >/dev/null # printf is a builtin: no argv
  secret=''
}

ensure_secret() {
  local name=$1 kind=$2
  if ! query "${G[@]}" secrets describe "$name" --format='value(name)' >/dev/null; then
    run "${G[@]}" secrets create "$name" --replication-policy=automatic --labels=app=rally-mcp
  fi
  if [[ -z $(enabled_versions "$name") ]]; then
    case $kind in
      rally) add_client_secret_version "$name" Rally "$RALLY_CLIENT_SECRET_FILE" --rally-client-secret-file ;;
      github) add_client_secret_version "$name" GitHub "$GITHUB_CLIENT_SECRET_FILE" --github-client-secret-file ;;
      sealing) add_generated_version "$name" "$SEALING_KEY_JS" ;;
      signing) add_generated_version "$name" "$SIGNING_KEY_JS" ;;
    esac
  fi
  # Secret-level binding: the functions can read exactly these secrets (three, four with GitHub).
  local has
  has=$(query "${G[@]}" secrets get-iam-policy "$name" --flatten='bindings[].members' \
    --filter="bindings.role=\"roles/secretmanager.secretAccessor\" AND bindings.members=\"serviceAccount:${SA_EMAIL}\"" \
    --format='value(bindings.role)') || has=''
  if [[ -z $has ]]; then
    run_retrying "${G[@]}" secrets add-iam-policy-binding "$name" --member="serviceAccount:${SA_EMAIL}" \
      --role=roles/secretmanager.secretAccessor --condition=None
  fi
}

ensure_secrets() {
  step 'Secrets (Secret Manager)'
  ensure_secret "$RALLY_SECRET" rally
  [[ -n $GITHUB_CLIENT_ID ]] && ensure_secret "$GITHUB_SECRET" github
  ensure_secret "$SEALING_SECRET" sealing
  ensure_secret "$SIGNING_SECRET" signing
}

# Pins versions: "latest" is never deployed (security cases E5, K3).
RALLY_SECRET_VERSION='' GITHUB_SECRET_VERSION='' SEALING_VERSIONS='' SIGNING_VERSIONS=''
resolve_versions() {
  step 'Pin secret versions (newest first; older versions stay for decrypt/verify)'
  local v
  v=$(enabled_versions "$RALLY_SECRET"); RALLY_SECRET_VERSION=$(head -n1 <<<"$v")
  if [[ -n $GITHUB_CLIENT_ID ]]; then
    v=$(enabled_versions "$GITHUB_SECRET"); GITHUB_SECRET_VERSION=$(head -n1 <<<"$v")
    [[ $GITHUB_SECRET_VERSION =~ ^[0-9]+$ ]] || die "no enabled version of secret ${GITHUB_SECRET}"
  fi
  v=$(enabled_versions "$SEALING_SECRET"); SEALING_VERSIONS=$(paste -sd, <<<"$v")
  v=$(enabled_versions "$SIGNING_SECRET"); SIGNING_VERSIONS=$(paste -sd, <<<"$v")
  [[ $RALLY_SECRET_VERSION =~ ^[0-9]+$ ]] || die "no enabled version of secret ${RALLY_SECRET}"
  [[ $SEALING_VERSIONS =~ ^[0-9]+(,[0-9]+)*$ ]] || die "no enabled version of secret ${SEALING_SECRET}"
  [[ $SIGNING_VERSIONS =~ ^[0-9]+(,[0-9]+)*$ ]] || die "no enabled version of secret ${SIGNING_SECRET}"
  note "pinned: ${RALLY_SECRET}=${RALLY_SECRET_VERSION}${GITHUB_CLIENT_ID:+ ${GITHUB_SECRET}=${GITHUB_SECRET_VERSION}} ${SEALING_SECRET}=${SEALING_VERSIONS} ${SIGNING_SECRET}=${SIGNING_VERSIONS}"
}

env_vars() {
  local vars=(
    NODE_ENV=production
    "PUBLIC_BASE_URL=${PUBLIC_BASE_URL}"
    "GOOGLE_CLOUD_PROJECT=${PROJECT}"
    "RALLY_BASE_URL=${RALLY_BASE_URL}"
    "RALLY_CLIENT_ID=${RALLY_CLIENT_ID}"
    "SECRET_SOURCE=${SECRET_SOURCE}"
    "RALLY_CLIENT_SECRET_NAME=${RALLY_SECRET}"
    "RALLY_CLIENT_SECRET_VERSION=${RALLY_SECRET_VERSION}"
    "SEALING_KEY_NAME=${SEALING_SECRET}"
    "SEALING_KEY_VERSIONS=${SEALING_VERSIONS}"
    "SIGNING_KEY_NAME=${SIGNING_SECRET}"
    "SIGNING_KEY_VERSIONS=${SIGNING_VERSIONS}"
    "SESSION_LINK_MODE=${SESSION_LINK_MODE}"
    "CONNECTION_TOKENS=${CONNECTION_TOKENS}"
    "CONNECTION_TOKEN_MAX_DAYS=${CONNECTION_TOKEN_MAX_DAYS}"
    "LOG_LEVEL=${LOG_LEVEL}"
  )
  # Firebase Hosting (the front door, also for a custom domain on it)
  # forwards only the cookie named __session to the functions.
  vars+=(BINDING_COOKIE_NAME=__session)
  [[ $SECRET_SOURCE == mounted ]] && vars+=("SECRETS_DIR=${SECRETS_MOUNT}")
  if [[ -n $GITHUB_CLIENT_ID ]]; then
    vars+=(
      "UPSTREAM_PROVIDERS=${UPSTREAM_PROVIDERS}"
      "GITHUB_CLIENT_ID=${GITHUB_CLIENT_ID}"
      "GITHUB_CLIENT_SECRET_NAME=${GITHUB_SECRET}"
      "GITHUB_CLIENT_SECRET_VERSION=${GITHUB_SECRET_VERSION}"
      "GITHUB_AUTHORIZE_BASE_URL=${GITHUB_AUTHORIZE_BASE_URL}"
      "GITHUB_API_BASE_URL=${GITHUB_API_BASE_URL}"
      "GITHUB_SCOPES=${GITHUB_SCOPES}"
    )
  fi
  [[ -n $ALLOWED_ORIGINS ]] && vars+=("ALLOWED_ORIGINS=${ALLOWED_ORIGINS}")
  # "^;^" switches gcloud's list delimiter, since version lists contain commas.
  local IFS=';'
  printf '^;^%s' "${vars[*]}"
}

# Sizing per function: memory cpu concurrency timeout max-instances min-instances.
# cpu=1 is the minimum for concurrency > 1; the 60 s timeout matches Firebase Hosting's.
sizing() {
  case $1 in
    mcp) printf '%s' "512Mi 1 80 60s 20 ${MCP_MIN_INSTANCES}" ;;
    authorization) printf '%s' '256Mi 1 80 30s 10 0' ;;
    oauthCallback) printf '%s' '256Mi 1 80 30s 10 0' ;;
    protectedResourceMetadata) printf '%s' '256Mi 1 80 10s 5 0' ;;
    *) die "no sizing for $1" ;;
  esac
}

# One volume per secret at ${SECRETS_MOUNT}/<secret>, one file per pinned version, e.g.
# /etc/secrets/rally-mcp-sealing-key/2: the layout SECRET_SOURCE=mounted reads. The files
# are not environment variables, and Cloud Run fetches each from Secret Manager when read.
secret_mounts() {
  local mounts=() pair name versions v pairs=("${RALLY_SECRET}=${RALLY_SECRET_VERSION}")
  [[ -n $GITHUB_CLIENT_ID ]] && pairs+=("${GITHUB_SECRET}=${GITHUB_SECRET_VERSION}")
  pairs+=("${SEALING_SECRET}=${SEALING_VERSIONS}" "${SIGNING_SECRET}=${SIGNING_VERSIONS}")
  for pair in "${pairs[@]}"; do
    name=${pair%%=*} versions=${pair#*=}
    for v in ${versions//,/ }; do mounts+=("${SECRETS_MOUNT}/${name}:/${v}=${name}:${v}"); done
  done
  local IFS=','
  printf '%s' "${mounts[*]}"
}

# The metadata function reads no secret, so it gets none mounted. With the
# client library, --clear-secrets removes mounts an earlier deploy made.
secrets_flag() {
  if [[ $1 == protectedResourceMetadata ]]; then printf '%s' '--clear-secrets'
  elif [[ $SECRET_SOURCE == mounted ]]; then printf '%s' "--set-secrets=$(secret_mounts)"
  else printf '%s' '--clear-secrets'
  fi
}

deploy_functions() {
  step 'Functions (gen2, Node 22; built in Cloud Build by npm run gcp-build)'
  local fn memory cpu concurrency timeout max min envs
  envs=$(env_vars)
  for fn in "${FUNCTIONS[@]}"; do
    read -r memory cpu concurrency timeout max min <<<"$(sizing "$fn")"
    run "${G[@]}" functions deploy "$fn" --gen2 --region="$REGION" --runtime=nodejs22 \
      --source="$ROOT" --entry-point="$fn" --trigger-http --allow-unauthenticated \
      --service-account="$SA_EMAIL" --ingress-settings=all \
      --memory="$memory" --cpu="$cpu" --concurrency="$concurrency" --timeout="$timeout" \
      --max-instances="$max" --min-instances="$min" \
      --set-env-vars="$envs" "$(secrets_flag "$fn")" --quiet
  done
}

ensure_metrics() {
  step 'Log-based metrics'
  local m
  for m in "${METRICS[@]}"; do
    if ! query "${G[@]}" logging metrics describe "rally_mcp/${m}" --format='value(name)' >/dev/null; then
      run "${G[@]}" logging metrics create "rally_mcp/${m}" --config-from-file="${ROOT}/ops/metrics/${m}.yaml"
    fi
  done
}

ensure_dashboard() {
  [[ $DEPLOY_DASHBOARD == true ]] || return 0
  step 'Monitoring dashboard'
  local existing
  existing=$(query "${G[@]}" monitoring dashboards list --filter="displayName=\"${DASHBOARD_NAME}\"" --format='value(name)') || existing=''
  if [[ -z $existing ]]; then
    run "${G[@]}" monitoring dashboards create --config-from-file="${ROOT}/ops/dashboard.json"
  fi
}

# firebase.json is generated for this region into a temp dir, so the working
# tree is never modified (the committed one is for us-central1).
deploy_hosting() {
  step 'Firebase Hosting (one public origin), Firestore rules and composite indexes'
  local stage
  stage=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: stage is local
  trap "rm -rf '${stage}'" EXIT
  run "$NODE" --import tsx "${ROOT}/ops/hosting-config.ts" --region="$REGION" --out-dir="$stage"
  run cp "${ROOT}/firestore.rules" "${stage}/firestore.rules"
  run mkdir -p "${stage}/ops"
  run cp -R "${ROOT}/ops/hosting-public" "${stage}/ops/hosting-public"
  show cd "$stage" '&&' npx --yes "firebase-tools@${FIREBASE_TOOLS_VERSION}" deploy \
    --only=hosting,firestore:rules,firestore:indexes --project="$PROJECT" --non-interactive
  $DRY_RUN && return 0
  (cd "$stage" && npx --yes "firebase-tools@${FIREBASE_TOOLS_VERSION}" deploy \
    --only=hosting,firestore:rules,firestore:indexes --project="$PROJECT" --non-interactive)
}

print_result() {
  local mcp_url="${PUBLIC_BASE_URL}/mcp"
  cat >&3 <<EOF

== Rally MCP server$($DRY_RUN && printf ' (dry run: nothing was deployed)')${GITHUB_CLIENT_ID:+
GitHub OAuth callback URL (register it in the GitHub OAuth app): ${PUBLIC_BASE_URL}/oauth/callback}
MCP server URL (paste into your MCP client): ${mcp_url}
Rally OAuth redirect URI (register it in Rally): ${PUBLIC_BASE_URL}/oauth/callback
VS Code .vscode/mcp.json:
{"servers":{"rally":{"type":"http","url":"${mcp_url}"}}}
EOF
}

cmd_deploy() {
  preflight
  enable_apis
  ensure_database
  ensure_fields
  ensure_service_account
  ensure_secrets
  resolve_versions
  deploy_functions
  ensure_metrics
  ensure_dashboard
  deploy_hosting
  print_result
}

cmd_rotate_key() {
  preflight
  local name js
  if [[ $KEY_KIND == sealing ]]; then name=$SEALING_SECRET; js=$SEALING_KEY_JS; else name=$SIGNING_SECRET; js=$SIGNING_KEY_JS; fi
  if $DRY_RUN; then
    note "dry run of a rotation: assuming version 1 of each secret exists"
    DRY_VERSIONS[$RALLY_SECRET]=1 DRY_VERSIONS[$GITHUB_SECRET]=1 DRY_VERSIONS[$SEALING_SECRET]=1 DRY_VERSIONS[$SIGNING_SECRET]=1
  fi
  step "Rotate ${KEY_KIND} key: add a version to ${name}"
  add_generated_version "$name" "$js"
  resolve_versions
  deploy_functions
  note "older versions stay enabled for decrypt/verify; disable one with"
  note "  gcloud secrets versions disable N --secret=${name} --project=${PROJECT}   then re-run ./deploy.sh"
}

cmd_teardown() {
  $CONFIRMED || $DRY_RUN || die 'teardown deletes the deployment and its keys; re-run with --yes'
  preflight
  step 'Teardown'
  show cd "$ROOT" '&&' npx --yes "firebase-tools@${FIREBASE_TOOLS_VERSION}" hosting:disable --project="$PROJECT" --force
  $DRY_RUN || (cd "$ROOT" && npx --yes "firebase-tools@${FIREBASE_TOOLS_VERSION}" hosting:disable --project="$PROJECT" --force) || true
  local fn m secret dashboards d
  for fn in "${FUNCTIONS[@]}"; do
    run_tolerant "${G[@]}" functions delete "$fn" --gen2 --region="$REGION" --quiet
  done
  for m in "${METRICS[@]}"; do run_tolerant "${G[@]}" logging metrics delete "rally_mcp/${m}" --quiet; done
  dashboards=$(query "${G[@]}" monitoring dashboards list --filter="displayName=\"${DASHBOARD_NAME}\"" --format='value(name)') || dashboards=''
  while IFS= read -r d; do
    [[ -n $d ]] && run_tolerant "${G[@]}" monitoring dashboards delete "$d" --quiet
  done <<<"$dashboards"
  local secrets=("$RALLY_SECRET" "$SEALING_SECRET" "$SIGNING_SECRET")
  [[ -n $GITHUB_CLIENT_ID ]] && secrets+=("$GITHUB_SECRET")
  for secret in "${secrets[@]}"; do
    run_tolerant "${G[@]}" secrets delete "$secret" --quiet
  done
  run_tolerant "${G[@]}" projects remove-iam-policy-binding "$PROJECT" --member="serviceAccount:${SA_EMAIL}" --role=roles/datastore.user --condition=None --quiet
  run_tolerant "${G[@]}" projects remove-iam-policy-binding "$PROJECT" --member="serviceAccount:${SA_EMAIL}" --role=roles/logging.logWriter --condition=None --quiet
  run_tolerant "${G[@]}" iam service-accounts delete "$SA_EMAIL" --quiet
  if $DELETE_DATABASE; then
    run_tolerant "${G[@]}" firestore databases delete --database="$DATABASE" --quiet
  else
    note "Firestore database ${DATABASE} kept (its data is sealed with the deleted keys); --delete-database removes it"
  fi
  note 'APIs stay enabled; Cloud Build images stay in Artifact Registry (gcf-artifacts) until deleted.'
}

case $COMMAND in
  deploy) cmd_deploy ;;
  rotate-key) cmd_rotate_key ;;
  teardown) cmd_teardown ;;
esac
