"""Texts of the challenge module, in the language chosen when the project was generated."""

{% if cookiecutter.language == "ko" -%}
BLANK_TITLE = "제목은 공백일 수 없습니다."
CHALLENGE_NOT_FOUND = "ID {challenge_id}인 챌린지를 찾을 수 없습니다."
{%- else -%}
BLANK_TITLE = "The title must not be blank."
CHALLENGE_NOT_FOUND = "Challenge {challenge_id} was not found."
{%- endif %}
