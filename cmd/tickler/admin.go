package main

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/httpapi"
)

// newAdmin returns the admin API and page that serve mounts at /admin/:
// guarded by the admin key, or the API key when there is none (and, with
// neither, answering loopback Host names only, as the API does), with a
// backup route if the store can write a consistent copy of itself (bolt).
func newAdmin(s *tickler.Scheduler, store tickler.Store, cfg Config, log *slog.Logger) http.Handler {
	opts := []httpapi.Option{httpapi.WithLogger(log)}
	if key := cfg.adminKey(); key != "" {
		opts = append(opts, httpapi.WithAuthorizer(httpapi.BearerToken(key)))
	}
	if w, ok := store.(io.WriterTo); ok {
		opts = append(opts, httpapi.WithBackup(w))
	}
	return httpapi.NewAdmin(s, opts...)
}

// adminKey is the key the admin API requires, "" for none.
func (c Config) adminKey() string {
	if c.AdminKey != "" {
		return c.AdminKey
	}
	return c.APIKey
}

// adminCommands are the subcommands beside serve and version: those that
// talk to a running server (cli.go) and those that open a stopped
// server's store (offline.go).
var adminCommands = map[string]func(args []string, getenv func(string) string, stdout, stderr io.Writer) error{
	"ls":      cmdList,
	"get":     cmdGet,
	"rm":      cmdAct("rm"),
	"pause":   cmdAct("pause"),
	"resume":  cmdAct("resume"),
	"trigger": cmdAct("trigger"),
	"history": cmdHistory,
	"inspect": cmdInspect,
	"export":  cmdExport,
	"import":  cmdImport,
}
