package run

import "sync"

// Subscription is one viewer's mailbox on a run. It holds only the latest
// update: publishing overwrites what the viewer has not taken yet, so a slow
// viewer skips updates and the memory held for it never grows. Each update
// is a whole picture (state and frame), so skipping loses nothing a viewer
// needs to draw the present.
type Subscription struct {
	run    *Run
	notify chan<- struct{}

	mu     sync.Mutex
	latest Update
	fresh  bool
	closed bool
}

// Subscribe returns a mailbox on r that already holds r's current update.
// After each publication it makes a non-blocking send on notify, which
// should be buffered (capacity 1 is enough): a full channel already says
// "something is waiting", so several runs may share one notify channel.
// A nil notify means the subscriber polls Latest.
func (r *Run) Subscribe(notify chan<- struct{}) *Subscription {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &Subscription{run: r, notify: notify}
	if r.closed {
		s.closed = true
		return s
	}
	r.subs[s] = struct{}{}
	s.put(r.last)
	return s
}

// Latest returns the newest update not yet taken, and false when there is
// none (nothing new since the last call, or the subscription is closed).
func (s *Subscription) Latest() (Update, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fresh {
		return Update{}, false
	}
	s.fresh = false
	u := s.latest
	s.latest = Update{} // drop the reference so the frame can be freed
	return u, true
}

// Pending reports whether an update is waiting to be taken.
func (s *Subscription) Pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fresh
}

// Unsubscribe stops deliveries to s. It is safe to call more than once.
func (s *Subscription) Unsubscribe() {
	s.run.mu.Lock()
	delete(s.run.subs, s)
	s.run.mu.Unlock()
	s.close()
}

func (s *Subscription) put(u Update) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.latest, s.fresh = u, true
	s.mu.Unlock()
	if s.notify != nil {
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
}

func (s *Subscription) close() {
	s.mu.Lock()
	s.closed, s.fresh, s.latest = true, false, Update{}
	s.mu.Unlock()
}
