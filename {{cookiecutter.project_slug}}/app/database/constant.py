"""Database constants: what every table shares on every server. Tunable values (pool sizes, timeouts) are settings,
with their defaults in app/common/settings.py."""

# Explicit constraint names, so migrations stay stable across databases and autogenerate runs.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Full Unicode (emoji included) on MySQL whatever the server's default character set; the collation is the character
# set's default (utf8mb4_0900_ai_ci on MySQL 8).
MYSQL_CHARSET = "utf8mb4"
# The largest id an Integer primary key holds (MySQL's signed INT). Ids in paths are bounded by it, so a larger
# number is a 422 the schema announces, not a driver overflow (a 500).
MAX_ID = 2_147_483_647
