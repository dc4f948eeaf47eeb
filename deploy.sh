#!/usr/bin/env bash
# DRS Orchestrator: build, deploy to AWS, delete, and check everything offline.
#
#   ./deploy.sh local [--port 8080] [--aws-port 4566] [--data .local] [--reset]
#                                      the whole product on 127.0.0.1, no AWS account needed
#   ./deploy.sh build                  Lambda zips (cargo-lambda) and the SPA
#   ./deploy.sh check                  cfn-lint, cfn-guard, zips (glibc, Runtime API smoke test)
#   ./deploy.sh deploy --stack NAME --region R --admin-email E [--mfa ON] [--param K=V ...]
#   ./deploy.sh delete --stack NAME --region R
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
BUILD=$ROOT/build
LAMBDAS=(api:api-lambda probe:probe-lambda custom-resource:custom-resource-lambda)
# provided.al2023 ships glibc 2.34; a bootstrap that needs newer symbols will not start.
MAX_GLIBC=${MAX_GLIBC:-2.34}

die() { printf 'deploy.sh: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }
venv_bin() { [ -x "$ROOT/.venv/bin/$1" ] && echo "$ROOT/.venv/bin/$1" || command -v "$1" || true; }

ensure_venv() {
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
  export PATH="$ROOT/.venv/bin:$PATH"
}

architecture() {
  if [ -n "${LAMBDA_ARCH:-}" ]; then echo "$LAMBDA_ARCH"; return; fi
  if rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$' \
     || rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then
    echo arm64
  else
    echo x86_64
  fi
}

cmd_build() {
  ensure_venv
  local arch; arch=$(architecture)
  step "Lambda bootstraps for provided.al2023 ($arch) with cargo-lambda"
  local flag=--arm64; [ "$arch" = x86_64 ] && flag=--x86-64
  local bins=()
  for entry in "${LAMBDAS[@]}"; do bins+=(--bin "${entry#*:}"); done
  cargo lambda build --release "$flag" --output-format zip "${bins[@]}"
  mkdir -p "$BUILD/lambda"
  for entry in "${LAMBDAS[@]}"; do
    cp "target/lambda/${entry#*:}/bootstrap.zip" "$BUILD/lambda/${entry%%:*}.zip"
  done
  echo "$arch" > "$BUILD/lambda/ARCH"
  ls -l "$BUILD"/lambda/*.zip
  if [ -f frontend/package.json ]; then
    step "SPA (frontend/)"
    npm ci --prefix frontend --no-audit --no-fund --loglevel=error
    npm run --prefix frontend build
  else
    echo "frontend/ does not exist yet: no SPA to build (the stack serves an empty site)"
  fi
}

cmd_check() {
  ensure_venv
  step "cfn-lint (every template; nested stacks are followed)"
  cfn-lint templates/*.yaml
  echo "cfn-lint: no findings in $(ls templates/*.yaml | wc -l) templates"
  step "cfn-guard rules (templates/rules)"
  command -v cfn-guard >/dev/null || cargo install --locked cfn-guard@3.2.1
  cfn-guard test -r templates/rules/drs-orchestrator.guard -t templates/rules/tests/drs-orchestrator_tests.yaml >/dev/null \
    || die "cfn-guard rule tests failed (cfn-guard test -r templates/rules/drs-orchestrator.guard -t templates/rules/tests/drs-orchestrator_tests.yaml)"
  echo "cfn-guard: rule tests pass"
  cfn-guard validate -r templates/rules/drs-orchestrator.guard -d templates --show-summary fail
  echo "cfn-guard: every template passes"
  step "Lambda zips the templates reference"
  local zips
  zips=$(grep -ho 'Code: \.\./build/lambda/[a-z-]*\.zip' templates/*.yaml | sed 's|Code: \.\./||' | sort -u)
  [ -n "$zips" ] || die "no Lambda code found in templates/"
  local arch; arch=$(cat "$BUILD/lambda/ARCH" 2>/dev/null || echo unknown)
  local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  for zip in $zips; do
    [ -f "$zip" ] || die "$zip is missing; run ./deploy.sh build"
    local name; name=$(basename "$zip" .zip)
    mkdir -p "$tmp/$name"
    .venv/bin/python -m zipfile -e "$zip" "$tmp/$name"
    [ -x "$tmp/$name/bootstrap" ] || chmod +x "$tmp/$name/bootstrap"
    local needed
    needed=$(objdump -T "$tmp/$name/bootstrap" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
    if [ "$(printf '%s\n%s\n' "$needed" "$MAX_GLIBC" | sort -V | tail -1)" != "$MAX_GLIBC" ]; then
      die "$zip: bootstrap needs glibc $needed, over the limit $MAX_GLIBC (provided.al2023 has 2.34)"
    fi
    printf '%-32s %s, %s KiB, needs glibc %s (<= %s)\n' "$zip" "$arch" "$(( $(stat -c %s "$zip") / 1024 ))" "$needed" "$MAX_GLIBC"
  done
  step "each bootstrap answers through a local Lambda Runtime API"
  cargo run -q -p system-tests --bin lambda-smoke -- "$tmp" "$arch"
}

cmd_local() {
  local started; started=$(date +%s.%N)
  command -v cargo >/dev/null || die "cargo is needed to build local mode: install Rust from https://rustup.rs"
  command -v python3 >/dev/null || die "python3 (3.10 or later) is needed for the AWS emulator (moto)"
  ensure_venv
  if [ -f frontend/package.json ]; then
    command -v npm >/dev/null || die "npm (Node.js 20) is needed to build the web UI"
    # Install and build only what changed, so a warm start stays fast.
    if [ ! -f frontend/node_modules/.package-lock.json ] || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then
      npm ci --prefix frontend --no-audit --no-fund --loglevel=error
    fi
    if [ ! -f frontend/dist/index.html ] || [ -n "$(find frontend/src frontend/index.html frontend/package-lock.json -newer frontend/dist/index.html -print -quit)" ]; then
      npm run --prefix frontend build >/dev/null
    fi
  fi
  cargo build -q -p drs-local
  DRS_LOCAL_STARTED_AT=$started exec target/debug/drs-local --root "$ROOT" "$@"
}

need_aws() {
  command -v aws >/dev/null || die "the AWS CLI is not installed (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)"
  aws sts get-caller-identity --region "$REGION" --output text --query Account >/dev/null 2>&1 \
    || die "no AWS credentials for region $REGION: run 'aws configure' or set AWS_PROFILE"
}

parse_args() {
  STACK=""; REGION="${AWS_REGION:-}"; ADMIN_EMAIL=""; MFA=OPTIONAL; EXTRA=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --stack) STACK=${2:-}; shift 2 ;;
      --region) REGION=${2:-}; shift 2 ;;
      --admin-email) ADMIN_EMAIL=${2:-}; shift 2 ;;
      --mfa) MFA=${2:-}; shift 2 ;;
      --param) EXTRA+=("${2:-}"); shift 2 ;;
      *) die "unknown option '$1' (see the top of deploy.sh)" ;;
    esac
  done
  [ -n "$STACK" ] || die "--stack NAME is required"
  [[ "$STACK" =~ ^[a-z][a-z0-9-]{1,23}$ ]] \
    || die "--stack '$STACK': use 2 to 24 lower-case letters, digits and hyphens, starting with a letter (it prefixes every resource name)"
  [ -n "$REGION" ] || die "--region is required (or set AWS_REGION)"
}

cmd_deploy() {
  parse_args "$@"
  [ -n "$ADMIN_EMAIL" ] || die "--admin-email is required: the first administrator signs in with it"
  [[ "$ADMIN_EMAIL" =~ ^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$ ]] || die "--admin-email '$ADMIN_EMAIL' is not an email address"
  [[ "$MFA" = OPTIONAL || "$MFA" = ON ]] || die "--mfa '$MFA' must be OPTIONAL or ON"
  need_aws
  for zip in api probe custom-resource; do
    [ -f "$BUILD/lambda/$zip.zip" ] || die "build/lambda/$zip.zip is missing; run ./deploy.sh build first"
  done
  local account arch bucket
  account=$(aws sts get-caller-identity --output text --query Account)
  arch=$(cat "$BUILD/lambda/ARCH")
  bucket="$STACK-artifacts-$account-$REGION"
  step "artifacts bucket s3://$bucket"
  if ! aws s3api head-bucket --bucket "$bucket" --region "$REGION" 2>/dev/null; then
    if [ "$REGION" = us-east-1 ]; then
      aws s3api create-bucket --bucket "$bucket" --region "$REGION" >/dev/null
    else
      aws s3api create-bucket --bucket "$bucket" --region "$REGION" \
        --create-bucket-configuration "LocationConstraint=$REGION" >/dev/null
    fi
    aws s3api put-public-access-block --bucket "$bucket" --region "$REGION" \
      --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
    aws s3api put-bucket-encryption --bucket "$bucket" --region "$REGION" \
      --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
  fi
  step "package (nested templates, Lambda zips, SSM documents) and deploy stack $STACK"
  aws cloudformation package --region "$REGION" --template-file templates/master.yaml \
    --s3-bucket "$bucket" --s3-prefix packages --output-template-file "$BUILD/packaged.yaml" >/dev/null
  local domain="${STACK}-${account}"
  aws cloudformation deploy --region "$REGION" --stack-name "$STACK" \
    --template-file "$BUILD/packaged.yaml" --s3-bucket "$bucket" --s3-prefix packages \
    --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
    --parameter-overrides AdminEmail="$ADMIN_EMAIL" MfaConfiguration="$MFA" \
      CognitoDomainPrefix="$domain" LambdaArchitecture="$arch" "${EXTRA[@]}"
  local out site_bucket url distribution
  out() { aws cloudformation describe-stacks --region "$REGION" --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text; }
  site_bucket=$(out SiteBucket); url=$(out SiteUrl); distribution=$(out DistributionId)
  if [ -d frontend/dist ]; then
    step "upload the SPA to s3://$site_bucket (config.json is the stack's)"
    aws s3 sync frontend/dist "s3://$site_bucket/" --delete --exclude config.json --region "$REGION"
    aws cloudfront create-invalidation --distribution-id "$distribution" --paths '/*' >/dev/null
  fi
  cat <<MSG

DRS Orchestrator is deployed.
  Open:     $url
  Sign in:  $ADMIN_EMAIL, with the temporary password Cognito has emailed; you will set a new one.
  Email:    confirm the two SNS subscription emails (notifications and alerts).
  Runbook:  aws ssm start-automation-execution --document-name $(out RunbookName) \\
              --parameters StateMachineArn=<plan machine ARN>,Mode=DRILL,AutomationAssumeRole=$(out RunbookRoleArn)
MSG
}

cmd_delete() {
  parse_args "$@"
  need_aws
  step "delete the plans' state machines ($STACK-plan-*), which the API created outside the stack"
  local machines
  machines=$(aws stepfunctions list-state-machines --region "$REGION" --output text \
    --query "stateMachines[?starts_with(name, '$STACK-plan-')].stateMachineArn")
  for arn in $machines; do
    aws stepfunctions delete-state-machine --region "$REGION" --state-machine-arn "$arn"
    echo "deleted $arn"
  done
  step "delete stack $STACK"
  aws cloudformation delete-stack --region "$REGION" --stack-name "$STACK"
  aws cloudformation wait stack-delete-complete --region "$REGION" --stack-name "$STACK"
  local account bucket
  account=$(aws sts get-caller-identity --output text --query Account)
  bucket="$STACK-artifacts-$account-$REGION"
  if aws s3api head-bucket --bucket "$bucket" --region "$REGION" 2>/dev/null; then
    aws s3 rb "s3://$bucket" --force --region "$REGION" >/dev/null
  fi
  echo "Deleted $STACK and its artifacts bucket."
}

case "${1:-}" in
  build) shift; cmd_build "$@" ;;
  check) shift; cmd_check "$@" ;;
  deploy) shift; cmd_deploy "$@" ;;
  delete) shift; cmd_delete "$@" ;;
  local) shift; cmd_local "$@" ;;
  *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
