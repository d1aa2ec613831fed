"""Operations: what the admin dashboard, `fedicity stats` and /metrics read from the database."""
