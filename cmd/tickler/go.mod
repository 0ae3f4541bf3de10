module github.com/tickler-go/tickler/cmd/tickler

go 1.25.0

require (
	github.com/jackc/pgx/v5 v5.12.0
	github.com/tickler-go/tickler v0.0.0
	github.com/tickler-go/tickler/postgres v0.0.0
)
