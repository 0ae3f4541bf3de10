package suite

import (
	"context"
	"strconv"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/reugn/go-quartz/quartz"
	"github.com/robfig/cron/v3"
)

// gocron v2: a OneTimeJob at a date-time, removed by its uuid.
var gocronFactory = Factory{
	Name:     "gocron",
	Parallel: 1,
	Note:     "gocron/v2 NewJob(OneTimeJob(OneTimeJobStartDateTime(t)), NewTask(fn)), RemoveJob(id)",
	New: func(env Env) (Lib, error) {
		s, err := gocron.NewScheduler(gocron.WithStopTimeout(10 * time.Second))
		if err != nil {
			return nil, err
		}
		return &gocronLib{s: s, ids: make([]uuid.UUID, env.N), fired: env.Fired}, nil
	},
}

type gocronLib struct {
	s     gocron.Scheduler
	ids   []uuid.UUID
	fired func(int)
}

func (g *gocronLib) Start() error { g.s.Start(); return nil }

func (g *gocronLib) Add(id int, at time.Time) error {
	fired := g.fired
	j, err := g.s.NewJob(
		gocron.OneTimeJob(gocron.OneTimeJobStartDateTime(at)),
		gocron.NewTask(func() { fired(id) }),
	)
	if err != nil {
		return err
	}
	g.ids[id] = j.ID()
	return nil
}

func (g *gocronLib) Remove(id int) error { return g.s.RemoveJob(g.ids[id]) }
func (g *gocronLib) Stop() error         { return g.s.Shutdown() }

// go-quartz: a RunOnceTrigger with the delay from now to t, keyed by a
// JobKey made of the job id, removed with DeleteJob.
var quartzFactory = Factory{
	Name:     "quartz",
	Parallel: 1,
	Note:     "go-quartz ScheduleJob(NewJobDetail(job, NewJobKey(id)), NewRunOnceTrigger(t-now)), DeleteJob(key)",
	New: func(env Env) (Lib, error) {
		s, err := quartz.NewStdScheduler()
		if err != nil {
			return nil, err
		}
		return &quartzLib{s: s, fired: env.Fired}, nil
	},
}

type quartzLib struct {
	s      quartz.Scheduler
	fired  func(int)
	cancel context.CancelFunc
}

type quartzJob struct {
	id    int
	fired func(int)
}

func (j *quartzJob) Execute(context.Context) error { j.fired(j.id); return nil }
func (j *quartzJob) Description() string           { return "bench job" }

func (q *quartzLib) Start() error {
	var ctx context.Context
	ctx, q.cancel = context.WithCancel(context.Background())
	q.s.Start(ctx)
	return nil
}

func (q *quartzLib) Add(id int, at time.Time) error {
	key := quartz.NewJobKey(strconv.Itoa(id))
	return q.s.ScheduleJob(
		quartz.NewJobDetail(&quartzJob{id: id, fired: q.fired}, key),
		quartz.NewRunOnceTrigger(time.Until(at)),
	)
}

func (q *quartzLib) Remove(id int) error {
	return q.s.DeleteJob(quartz.NewJobKey(strconv.Itoa(id)))
}

func (q *quartzLib) Stop() error {
	q.s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q.s.Wait(ctx)
	q.cancel()
	return nil
}

// robfig/cron v3 has no one-time job. It is emulated through its public
// Schedule interface: a Schedule whose Next returns t once and then the
// zero time, which cron documents as "unsatisfiable" (Entry.Next) and
// never runs. A fired entry stays in cron's slice until Remove.
var robfigFactory = Factory{
	Name:     "robfig",
	Parallel: 1,
	Note:     "robfig/cron/v3 Schedule(onceSchedule{t}, FuncJob) — emulated: Next returns t once, then zero; Remove(entryID)",
	New: func(env Env) (Lib, error) {
		return &robfigLib{c: cron.New(), ids: make([]cron.EntryID, env.N), fired: env.Fired}, nil
	},
}

type onceSchedule struct{ at time.Time }

func (o onceSchedule) Next(t time.Time) time.Time {
	if t.Before(o.at) {
		return o.at
	}
	return time.Time{}
}

type robfigLib struct {
	c     *cron.Cron
	ids   []cron.EntryID
	fired func(int)
}

func (r *robfigLib) Start() error { r.c.Start(); return nil }

func (r *robfigLib) Add(id int, at time.Time) error {
	fired := r.fired
	r.ids[id] = r.c.Schedule(onceSchedule{at}, cron.FuncJob(func() { fired(id) }))
	return nil
}

func (r *robfigLib) Remove(id int) error { r.c.Remove(r.ids[id]); return nil }

func (r *robfigLib) Stop() error {
	ctx := r.c.Stop()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
	return nil
}
