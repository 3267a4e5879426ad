"""Texts the application shows to people, in the language chosen when the project was generated.

Each business module keeps its own texts in app/module/<name>/messages.py."""

{% if cookiecutter.language == "ko" -%}
UNKNOWN_ENVIRONMENT = "ENVIRONMENT 값 {value!r}은(는) 허용되지 않습니다. 허용 값: {allowed}"
MISSING_DB_CREDENTIALS = (
    "ENVIRONMENT={environment} 에서는 DB_IAM_AUTH=true(IAM 인증 토큰, 비밀번호 없음), DB_SECRET_ARN(Secrets Manager "
    "시크릿) 또는 DB_PASSWORD 환경 변수 중 하나가 필요합니다."
)
IAM_AUTH_WITH_PASSWORD = (
    "DB_IAM_AUTH가 true 이면(IAM 인증 토큰으로 로그인) {names}을(를) 함께 설정할 수 없습니다: 토큰이 비밀번호를 "
    "대신하므로 {names}을(를) 지우거나, 비밀번호로 로그인하려면 DB_IAM_AUTH=false(기본값)로 두세요."
)
IAM_AUTH_WITHOUT_HOST = (
    "DB_IAM_AUTH가 true 이면(IAM 인증 토큰으로 로그인) DB_HOST가 필요합니다: 토큰을 만들 대상인 MySQL 서버 또는 "
    "RDS Proxy 엔드포인트입니다. 내장 SQLite 데이터베이스(DB_HOST 없음)에는 IAM 로그인이 없으니 DB_HOST를 "
    "지정하거나 DB_IAM_AUTH를 지우세요."
)
MISSING_DB_HOST = "ENVIRONMENT={environment} 에서는 DB_HOST 환경 변수가 필요합니다."
TEMPLATE_REVISIONS_KEPT_TWICE = (
    "migrations/versions 에 템플릿이 이제 migrations/template_versions 에 두는 리비전이 남아 있습니다: {names}. "
    "옛 사본을 지우세요(git rm {paths}). 이유는 템플릿의 CHANGELOG.md, Upgrading 에 있습니다."
)
{%- if cookiecutter.api_auth == "jwt" %}
MODULE_WITHOUT_ACCESS = (
    "app/module/{name} 에 access.py 가 없어 그 라우트를 지키는 스코프·소유자 검사가 없으므로 앱을 시작하지 않습니다. "
    "API 가 닫히기(api_auth=jwt) 전에 make module 로 만든 모듈입니다: 템플릿의 CHANGELOG.md, Upgrading, "
    "'api_auth closes the API' 를 따라 지금 make module 이 만드는 모듈과 같이 고치세요."
)
{%- endif %}
UNVERIFIED_DB_TLS = (
    "ENVIRONMENT={environment} 에서는 MySQL 서버 인증서를 검증할 방법이 필요합니다: DB_SSL_CA에 CA 번들 파일"
    "(RDS 와 RDS Proxy: make -C infra ca-bundle 이 받는 번들)을 지정하거나, 검증 없이 아무 서버나 믿으려면"
    "(암호화는 되지만 중간자가 비밀번호를 읽을 수 있음) DB_SSL_TRUST_ANY_SERVER=true 를 명시하세요."
)
MISSING_DB_SSL_CA_FILE = (
    "DB_SSL_CA 파일 {path!r}을(를) 읽을 수 없습니다 (상대 경로는 작업 디렉터리 {cwd} 기준). "
    "CA 번들 파일의 경로를 지정하세요."
)
INVALID_CORS_ORIGIN = (
    "CORS_ALLOWED_ORIGINS의 {origin!r}은(는) 오리진이 아닙니다. 허용 값: 쉼표로 구분한 오리진, 각각 소문자 "
    "scheme://host[:port] (경로와 끝의 / 없이, 예: https://app.example.com). '*'는 허용되지 않습니다."
)
{%- if cookiecutter.api_auth == "jwt" %}
LOCAL_TOKEN_KEY_DEPLOYED = (
    "ENVIRONMENT={environment} 에서는 LOCAL_TOKEN_KEY를 설정할 수 없습니다: 로컬 토큰은 ENVIRONMENT=local 또는 test "
    "전용입니다. 함수 환경에서 LOCAL_TOKEN_KEY를 지우세요."
)
LOCAL_TOKEN_KEY_SHORT = "LOCAL_TOKEN_KEY는 {length}자 이상이어야 합니다 (make token 이 .env에 만들어 줍니다)."
{%- endif %}
{%- if cookiecutter.background_jobs == "yes" %}
MISSING_JOB_QUEUE_URL = (
    "ENVIRONMENT={environment} 에서는 JOB_QUEUE_URL(작업 큐의 SQS URL)이 필요합니다: 그것 없이 enqueue() 는 작업을 "
    "함수 안에서 실행하는데, Lambda 는 응답 뒤 함수를 멈추므로 그 작업은 재시도도 기록도 없이 사라집니다."
)
INVALID_JOB_NAME = (
    "작업 {job}의 name {value!r}이(가) 올바르지 않습니다. 허용 값: 소문자로 시작하고 소문자, 숫자, '.', '-', '_' 로 된 "
    "{length}자 이하의 문자열 (예: 'challenge.count-words')."
)
INVALID_JOB_SCHEDULE = (
    "작업 {job}의 schedule {value!r}이(가) 올바르지 않습니다. 허용 값: EventBridge Scheduler 의 "
    "cron(분 시 일 월 요일 연도) (6개 필드, 일과 요일 중 하나는 '?') 또는 rate(N minute|minutes|hour|hours|day|days) "
    "(N 은 1 이상, 1 일 때 단수)."
)
INVALID_JOB_TIMEZONE = (
    "작업 {job}의 schedule 시간대 {value!r}이(가) 올바르지 않습니다. 허용 값: IANA 시간대 이름 "
    "(예: 'UTC', 'Asia/Seoul')."
)
SCHEDULED_JOB_WITH_REQUIRED_FIELDS = (
    "작업 {job}은(는) schedule 로 실행되는데 payload 에 필수 필드 {fields}가 있습니다: 스케줄 실행의 payload 는 "
    "비어 있으므로 기본값을 주세요."
)
DUPLICATE_JOB_NAME = "작업 이름 {name!r}이(가) 두 작업에 쓰였습니다: {first}, {second}. 작업 이름은 고유해야 합니다."
{%- endif %}
INVALID_SETTINGS = "설정이 올바르지 않습니다"
VALIDATION_FAILED = "요청 값이 올바르지 않습니다."
NOT_FOUND = "요청한 리소스를 찾을 수 없습니다."
MALFORMED_BODY = "요청 본문을 읽을 수 없습니다. UTF-8 JSON이어야 합니다."
METHOD_NOT_ALLOWED = "이 경로에서 허용되지 않는 메서드입니다. 허용되는 메서드는 Allow 헤더에 있습니다."
CORS_NOT_ALLOWED = (
    "허용되지 않은 교차 출처(CORS) 요청입니다: 오리진, 메서드 또는 헤더가 이 API가 허용하는 값이 아닙니다."
)
INTERNAL_ERROR = "서버 내부 오류가 발생했습니다."
DATABASE_UNAVAILABLE = "데이터베이스에 연결할 수 없습니다."
CONTROL_CHARACTERS = "탭과 줄바꿈을 제외한 제어 문자는 사용할 수 없습니다."
{%- if cookiecutter.api_auth == "jwt" %}
NOT_AUTHENTICATED = "검증된 액세스 토큰이 필요합니다: Authorization: Bearer <토큰> 헤더를 보내세요."
INVALID_TOKEN = "Bearer 토큰이 올바르지 않거나 만료되었습니다: 새 액세스 토큰을 보내세요 (로컬 실행: make token)."
MISSING_SCOPE = "액세스 토큰에 이 경로에 필요한 스코프가 없습니다: {scopes}"
MISSING_SCOPE_DESCRIPTION = "액세스 토큰에 이 경로에 필요한 스코프가 없습니다."
{%- endif %}
{%- else -%}
UNKNOWN_ENVIRONMENT = "ENVIRONMENT value {value!r} is not allowed. Allowed values: {allowed}"
MISSING_DB_CREDENTIALS = (
    "One of DB_IAM_AUTH=true (an IAM authentication token, no password), DB_SECRET_ARN (a Secrets Manager secret) or "
    "DB_PASSWORD must be set when ENVIRONMENT={environment}."
)
IAM_AUTH_WITH_PASSWORD = (
    "DB_IAM_AUTH is true (log in with an IAM authentication token), which excludes {names}: the token replaces the "
    "password, so unset {names}, or set DB_IAM_AUTH=false (the default) to log in with a password."
)
IAM_AUTH_WITHOUT_HOST = (
    "DB_IAM_AUTH is true (log in with an IAM authentication token), which needs DB_HOST: the MySQL server or RDS "
    "Proxy endpoint the token is made for. The embedded SQLite database (no DB_HOST) has no IAM login: set DB_HOST, "
    "or unset DB_IAM_AUTH."
)
MISSING_DB_HOST = "DB_HOST must be set when ENVIRONMENT={environment}."
UNVERIFIED_DB_TLS = (
    "ENVIRONMENT={environment} needs a way to verify the MySQL server's certificate: set DB_SSL_CA to a CA bundle "
    "file (for RDS and RDS Proxy, the one make -C infra ca-bundle downloads), or set DB_SSL_TRUST_ANY_SERVER=true to "
    "accept any server (still encrypted, but a man in the middle can read the password)."
)
MISSING_DB_SSL_CA_FILE = (
    "DB_SSL_CA names {path!r}, which is not a file (relative paths start from the working directory, {cwd}): "
    "give the path of a CA bundle file."
)
INVALID_CORS_ORIGIN = (
    "CORS_ALLOWED_ORIGINS holds {origin!r}, which is not an origin. Allowed: comma-separated origins, each a lowercase "
    "scheme://host[:port] without a path or trailing slash (e.g. https://app.example.com); '*' is not allowed."
)
{%- if cookiecutter.api_auth == "jwt" %}
LOCAL_TOKEN_KEY_DEPLOYED = (
    "LOCAL_TOKEN_KEY must not be set when ENVIRONMENT={environment}: local tokens are for ENVIRONMENT=local or test "
    "only. Remove LOCAL_TOKEN_KEY from the function's environment."
)
LOCAL_TOKEN_KEY_SHORT = "LOCAL_TOKEN_KEY must be at least {length} characters long (make token writes one to .env)."
{%- endif %}
TEMPLATE_REVISIONS_KEPT_TWICE = (
    "migrations/versions holds revisions that the template now keeps in migrations/template_versions: {names}. "
    "Remove the old copies (git rm {paths}); the template's CHANGELOG.md, Upgrading, says why."
)
{%- if cookiecutter.api_auth == "jwt" %}
MODULE_WITHOUT_ACCESS = (
    "app/module/{name} has no access.py, so no scope or owner check would guard its routes: the app does not start. "
    "The module was made by make module before the API was closed (api_auth=jwt); bring it up to date as the "
    "template's CHANGELOG.md, Upgrading, 'api_auth closes the API' says (compare it with a module make module "
    "writes now)."
)
{%- endif %}
{%- if cookiecutter.background_jobs == "yes" %}
MISSING_JOB_QUEUE_URL = (
    "JOB_QUEUE_URL (the job queue's SQS URL) must be set when ENVIRONMENT={environment}: without it enqueue() runs "
    "jobs inside the function, and Lambda freezes the function after its answer, so such a job would be lost without "
    "a retry or a trace."
)
INVALID_JOB_NAME = (
    "The name {value!r} of job {job} is not allowed. Allowed: up to {length} lowercase letters, digits, '.', '-' and "
    "'_', starting with a letter (e.g. 'challenge.count-words')."
)
INVALID_JOB_SCHEDULE = (
    "The schedule {value!r} of job {job} is not allowed. Allowed: an EventBridge Scheduler cron(minutes hours "
    "day-of-month month day-of-week year) (6 fields, one of day-of-month and day-of-week '?') or rate(N "
    "minute|minutes|hour|hours|day|days) (N at least 1, the unit singular for 1)."
)
INVALID_JOB_TIMEZONE = (
    "The schedule time zone {value!r} of job {job} is not allowed. Allowed: an IANA time zone name (e.g. 'UTC', "
    "'Asia/Seoul')."
)
SCHEDULED_JOB_WITH_REQUIRED_FIELDS = (
    "Job {job} runs on a schedule but its payload has required fields: {fields}. A scheduled run's payload is empty: "
    "give them defaults."
)
DUPLICATE_JOB_NAME = "The job name {name!r} is used by two jobs: {first} and {second}. Job names must be unique."
{%- endif %}
INVALID_SETTINGS = "Invalid settings"
VALIDATION_FAILED = "The request is not valid."
NOT_FOUND = "The requested resource was not found."
MALFORMED_BODY = "The request body cannot be read: it must be UTF-8 encoded JSON."
METHOD_NOT_ALLOWED = "This method is not allowed on this path; the Allow header lists the methods that are."
CORS_NOT_ALLOWED = "This cross-origin request is refused: its origin, method or headers are not ones the API allows."
INTERNAL_ERROR = "Internal server error."
DATABASE_UNAVAILABLE = "The database is not reachable."
CONTROL_CHARACTERS = "Control characters other than tab and newline are not allowed."
{%- if cookiecutter.api_auth == "jwt" %}
NOT_AUTHENTICATED = "This route needs a verified access token: send the header Authorization: Bearer <token>."
INVALID_TOKEN = "The bearer token is invalid or expired: send a new access token (local runs: make token)."
MISSING_SCOPE = "The access token lacks the scope this route needs: {scopes}"
MISSING_SCOPE_DESCRIPTION = "The access token lacks a scope this route needs."
{%- endif %}
{%- endif %}
