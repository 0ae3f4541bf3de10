module github.com/tickler-go/tickler/bench

go 1.26.8


require (
	github.com/go-co-op/gocron/v2 v2.21.2
	github.com/google/uuid v1.6.0
	github.com/reugn/go-quartz v0.15.2
	github.com/robfig/cron/v3 v3.0.1
	github.com/tickler-go/tickler v0.0.0
)

require (
	github.com/benbjohnson/clock v1.3.5 // indirect
	github.com/google/btree v1.1.3 // indirect
	github.com/jonboulle/clockwork v0.5.0 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
)
