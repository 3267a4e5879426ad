"""Texts the application shows to people, in the language chosen when the project was generated."""

{% if cookiecutter.language == "ko" -%}
UNKNOWN_ENVIRONMENT = "ENVIRONMENT 값 {value!r}은(는) 허용되지 않습니다. 허용 값: {allowed}"
MISSING_DB_PASSWORD = "ENVIRONMENT={environment} 에서는 DB_PASSWORD 환경 변수가 필요합니다."
MISSING_DB_HOST = "ENVIRONMENT={environment} 에서는 DB_HOST 환경 변수가 필요합니다."
INVALID_SETTINGS = "설정이 올바르지 않습니다"
VALIDATION_FAILED = "요청 값이 올바르지 않습니다."
NOT_FOUND = "요청한 리소스를 찾을 수 없습니다."
INTERNAL_ERROR = "서버 내부 오류가 발생했습니다."
DATABASE_UNAVAILABLE = "데이터베이스에 연결할 수 없습니다."
{%- if cookiecutter.include_example_module == "yes" %}
BLANK_TITLE = "제목은 공백일 수 없습니다."
CHALLENGE_NOT_FOUND = "ID {challenge_id}인 챌린지를 찾을 수 없습니다."
{%- endif %}
{%- else -%}
UNKNOWN_ENVIRONMENT = "ENVIRONMENT value {value!r} is not allowed. Allowed values: {allowed}"
MISSING_DB_PASSWORD = "DB_PASSWORD must be set when ENVIRONMENT={environment}."
MISSING_DB_HOST = "DB_HOST must be set when ENVIRONMENT={environment}."
INVALID_SETTINGS = "Invalid settings"
VALIDATION_FAILED = "The request is not valid."
NOT_FOUND = "The requested resource was not found."
INTERNAL_ERROR = "Internal server error."
DATABASE_UNAVAILABLE = "The database is not reachable."
{%- if cookiecutter.include_example_module == "yes" %}
BLANK_TITLE = "The title must not be blank."
CHALLENGE_NOT_FOUND = "Challenge {challenge_id} was not found."
{%- endif %}
{%- endif %}
