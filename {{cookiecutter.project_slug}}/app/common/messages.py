"""Texts the application shows to people, in the language chosen when the project was generated.

Each business module keeps its own texts in app/module/<name>/messages.py."""

{% if cookiecutter.language == "ko" -%}
UNKNOWN_ENVIRONMENT = "ENVIRONMENT 값 {value!r}은(는) 허용되지 않습니다. 허용 값: {allowed}"
MISSING_DB_CREDENTIALS = (
    "ENVIRONMENT={environment} 에서는 DB_SECRET_ARN(Secrets Manager 시크릿, 권장) 또는 DB_PASSWORD 환경 변수 중 "
    "하나가 필요합니다."
)
MISSING_DB_HOST = "ENVIRONMENT={environment} 에서는 DB_HOST 환경 변수가 필요합니다."
UNVERIFIED_DB_TLS = (
    "ENVIRONMENT={environment} 에서는 MySQL 서버 인증서를 검증할 방법이 필요합니다: DB_SSL_CA에 CA 번들 파일"
    "(RDS: AWS의 global bundle)을 지정하거나, 검증 없이 아무 서버나 믿으려면(암호화는 되지만 중간자가 비밀번호를 "
    "읽을 수 있음) DB_SSL_TRUST_ANY_SERVER=true 를 명시하세요."
)
MISSING_DB_SSL_CA_FILE = (
    "DB_SSL_CA 파일 {path!r}을(를) 읽을 수 없습니다 (상대 경로는 작업 디렉터리 {cwd} 기준). "
    "CA 번들 파일의 경로를 지정하세요."
)
INVALID_SETTINGS = "설정이 올바르지 않습니다"
VALIDATION_FAILED = "요청 값이 올바르지 않습니다."
NOT_FOUND = "요청한 리소스를 찾을 수 없습니다."
MALFORMED_BODY = "요청 본문을 읽을 수 없습니다. UTF-8 JSON이어야 합니다."
METHOD_NOT_ALLOWED = "이 경로에서 허용되지 않는 메서드입니다. 허용되는 메서드는 Allow 헤더에 있습니다."
INTERNAL_ERROR = "서버 내부 오류가 발생했습니다."
DATABASE_UNAVAILABLE = "데이터베이스에 연결할 수 없습니다."
CONTROL_CHARACTERS = "탭과 줄바꿈을 제외한 제어 문자는 사용할 수 없습니다."
{%- else -%}
UNKNOWN_ENVIRONMENT = "ENVIRONMENT value {value!r} is not allowed. Allowed values: {allowed}"
MISSING_DB_CREDENTIALS = (
    "One of DB_SECRET_ARN (a Secrets Manager secret, recommended) or DB_PASSWORD must be set when "
    "ENVIRONMENT={environment}."
)
MISSING_DB_HOST = "DB_HOST must be set when ENVIRONMENT={environment}."
UNVERIFIED_DB_TLS = (
    "ENVIRONMENT={environment} needs a way to verify the MySQL server's certificate: set DB_SSL_CA to a CA bundle "
    "file (for RDS, AWS's global bundle), or set DB_SSL_TRUST_ANY_SERVER=true to accept any server (still encrypted, "
    "but a man in the middle can read the password)."
)
MISSING_DB_SSL_CA_FILE = (
    "DB_SSL_CA names {path!r}, which is not a file (relative paths start from the working directory, {cwd}): "
    "give the path of a CA bundle file."
)
INVALID_SETTINGS = "Invalid settings"
VALIDATION_FAILED = "The request is not valid."
NOT_FOUND = "The requested resource was not found."
MALFORMED_BODY = "The request body cannot be read: it must be UTF-8 encoded JSON."
METHOD_NOT_ALLOWED = "This method is not allowed on this path; the Allow header lists the methods that are."
INTERNAL_ERROR = "Internal server error."
DATABASE_UNAVAILABLE = "The database is not reachable."
CONTROL_CHARACTERS = "Control characters other than tab and newline are not allowed."
{%- endif %}
