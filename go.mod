module github.com/tickler-go/tickler

go 1.25.0

require (
	github.com/benbjohnson/clock v1.3.5
	github.com/google/btree v1.1.3
	github.com/google/uuid v1.6.0
	github.com/robfig/cron/v3 v3.0.1
	go.etcd.io/bbolt v1.5.0
)

require golang.org/x/sys v0.45.0 // indirect
