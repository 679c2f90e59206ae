"""One SDK sink per stream and the deliveries behind them: prospects, memberships, bulk import."""
