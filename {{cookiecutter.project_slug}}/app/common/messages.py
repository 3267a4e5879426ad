"""Texts the application shows to people, in the language chosen when the project was generated.

Each business module keeps its own texts in app/module/<name>/messages.py."""

{% if cookiecutter.language == "ko" -%}
UNKNOWN_ENVIRONMENT = "ENVIRONMENT 값 {value!r}은(는) 허용되지 않습니다. 허용 값: {allowed}"
MISSING_DB_PASSWORD = "ENVIRONMENT={environment} 에서는 DB_PASSWORD 환경 변수가 필요합니다."
MISSING_DB_HOST = "ENVIRONMENT={environment} 에서는 DB_HOST 환경 변수가 필요합니다."
INVALID_SETTINGS = "설정이 올바르지 않습니다"
VALIDATION_FAILED = "요청 값이 올바르지 않습니다."
NOT_FOUND = "요청한 리소스를 찾을 수 없습니다."
MALFORMED_BODY = "요청 본문을 읽을 수 없습니다. UTF-8 JSON이어야 합니다."
METHOD_NOT_ALLOWED = "이 경로에서 허용되지 않는 메서드입니다. 허용되는 메서드는 Allow 헤더에 있습니다."
INTERNAL_ERROR = "서버 내부 오류가 발생했습니다."
DATABASE_UNAVAILABLE = "데이터베이스에 연결할 수 없습니다."
{%- else -%}
UNKNOWN_ENVIRONMENT = "ENVIRONMENT value {value!r} is not allowed. Allowed values: {allowed}"
MISSING_DB_PASSWORD = "DB_PASSWORD must be set when ENVIRONMENT={environment}."
MISSING_DB_HOST = "DB_HOST must be set when ENVIRONMENT={environment}."
INVALID_SETTINGS = "Invalid settings"
VALIDATION_FAILED = "The request is not valid."
NOT_FOUND = "The requested resource was not found."
MALFORMED_BODY = "The request body cannot be read: it must be UTF-8 encoded JSON."
METHOD_NOT_ALLOWED = "This method is not allowed on this path; the Allow header lists the methods that are."
INTERNAL_ERROR = "Internal server error."
DATABASE_UNAVAILABLE = "The database is not reachable."
{%- endif %}
