"""Outgoing e-mail: SMTP when configured, the log otherwise; knows messages, not citizens."""
