"""Accounts: the logins (password, e-mail, admin role) behind local citizen actors."""
