"""Projects: organisation-shaped actors with a maturity, dates, a licence and parents."""
