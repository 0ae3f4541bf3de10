module github.com/tickler-go/tickler/cmd/tickler

go 1.26.0

require (
	github.com/jackc/pgx/v5 v5.12.0
	github.com/modelcontextprotocol/go-sdk v1.8.0
	github.com/tickler-go/tickler v0.0.0
	github.com/tickler-go/tickler/mcp v0.0.0
	github.com/tickler-go/tickler/otel v0.0.0
	github.com/tickler-go/tickler/postgres v0.0.0
)
