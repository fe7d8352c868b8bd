package run

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// Owner is who a piece of work is done for: the remote address and the
// session (page) that started it. The scheduler shares the CPU fairly
// between addresses first and between one address's sessions second.
type Owner struct {
	Addr    string
	Session string
}

// Scheduler hands out a fixed number of CPU slots to the experiments'
// steps, so that training is scheduled, never free-running. While work
// waits, a freed slot goes to the waiting address that has used the least
// slot time (and within it the least-served session): an address with 8
// busy runs gets the same share as an address with one, as long as both
// have work waiting. Slot time is wall time held, measured per grant.
type Scheduler struct {
	now   func() time.Time
	slots int

	mu   sync.Mutex
	busy int
	wait []*grant
	// keys holds the slot time each address and each session has had.
	keys map[string]*keyState
}

// keyState is one address's or session's account.
type keyState struct {
	used      time.Duration
	active    int // grants running or waiting
	idleSince time.Time
}

// idleGrace is how long a key may go without work and keep its account
// as it is: a run between two steps is not idle. maxIdleKeys is how many
// accounts are kept before idle ones are forgotten.
const (
	idleGrace   = time.Second
	maxIdleKeys = 4096
)

type grant struct {
	owner      Owner
	addr, sess *keyState // the owner's accounts, active while the grant lives
	ready      chan struct{}
	given      bool
}

// NewScheduler returns a scheduler with slots CPU slots; slots ≤ 0 means
// DefaultSlots().
func NewScheduler(slots int) *Scheduler {
	if slots <= 0 {
		slots = DefaultSlots()
	}
	return &Scheduler{now: time.Now, slots: slots, keys: map[string]*keyState{}}
}

// DefaultSlots is one slot per CPU but one, kept for serving pages and
// sockets, and at least one.
func DefaultSlots() int { return max(1, runtime.GOMAXPROCS(0)-1) }

func addrKey(o Owner) string    { return "a\x00" + o.Addr }
func sessionKey(o Owner) string { return "s\x00" + o.Addr + "\x00" + o.Session }

// Acquire waits for a slot for o and returns its release, which must be
// called once the work is done (it accounts the time held). It returns
// ctx's error, holding nothing, if ctx ends first.
func (s *Scheduler) Acquire(ctx context.Context, o Owner) (release func(), err error) {
	s.mu.Lock()
	s.activate(o)
	g := &grant{owner: o, addr: s.keys[addrKey(o)], sess: s.keys[sessionKey(o)], ready: make(chan struct{})}
	if s.busy < s.slots && len(s.wait) == 0 {
		s.busy++
		g.given = true
		close(g.ready)
	} else {
		s.wait = append(s.wait, g)
	}
	s.mu.Unlock()
	select {
	case <-g.ready:
		if ctx.Err() != nil { // both were ready: the cancellation wins
			s.release(o, 0)
			return nil, ctx.Err()
		}
	case <-ctx.Done():
		s.mu.Lock()
		if !g.given {
			for i, w := range s.wait {
				if w == g {
					s.wait = append(s.wait[:i], s.wait[i+1:]...)
					break
				}
			}
			s.deactivate(o)
			s.mu.Unlock()
			return nil, ctx.Err()
		}
		s.mu.Unlock()
		// Given meanwhile: hand the slot straight back.
		s.release(o, 0)
		return nil, ctx.Err()
	}
	start := s.now()
	var once sync.Once
	return func() { once.Do(func() { s.release(o, s.now().Sub(start)) }) }, nil
}

// Do runs f holding a slot for o.
func (s *Scheduler) Do(ctx context.Context, o Owner, f func()) error {
	release, err := s.Acquire(ctx, o)
	if err != nil {
		return err
	}
	defer release()
	f()
	return nil
}

func (s *Scheduler) activate(o Owner) {
	now := s.now()
	for _, k := range []string{addrKey(o), sessionKey(o)} {
		ks := s.keys[k]
		if ks == nil {
			ks = &keyState{}
			s.keys[k] = ks
			ks.used = s.floor(k[0], ks)
		} else if ks.active == 0 && now.Sub(ks.idleSince) > idleGrace {
			ks.used = max(ks.used, s.floor(k[0], ks))
		}
		ks.active++
	}
	if len(s.keys) > maxIdleKeys {
		for k, ks := range s.keys {
			if ks.active == 0 && now.Sub(ks.idleSince) > idleGrace {
				delete(s.keys, k)
			}
		}
	}
}

func (s *Scheduler) deactivate(o Owner) {
	now := s.now()
	for _, k := range []string{addrKey(o), sessionKey(o)} {
		ks := s.keys[k]
		if ks.active--; ks.active == 0 {
			ks.idleSince = now
		}
	}
}

// floor is the least slot time among the other active keys of a kind ('a'
// or 's'): where a key that was idle starts again, so that idleness earns
// no burst.
func (s *Scheduler) floor(kind byte, self *keyState) time.Duration {
	first, least := true, time.Duration(0)
	for k, ks := range s.keys {
		if k[0] == kind && ks != self && ks.active > 0 && (first || ks.used < least) {
			first, least = false, ks.used
		}
	}
	return least
}

// release accounts held to o's address and session, frees the slot and
// gives it to the next waiter.
func (s *Scheduler) release(o Owner, held time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[addrKey(o)].used += held
	s.keys[sessionKey(o)].used += held
	s.deactivate(o)
	s.busy--
	for s.busy < s.slots && len(s.wait) > 0 {
		best := 0
		for i := 1; i < len(s.wait); i++ {
			if before(s.wait[i], s.wait[best]) {
				best = i
			}
		}
		g := s.wait[best]
		s.wait = append(s.wait[:best], s.wait[best+1:]...)
		s.busy++
		g.given = true
		close(g.ready)
	}
}

// before reports whether a should be served before b: the address that
// has had less, then the session that has had less; ties go to the
// earlier waiter (the caller scans in arrival order).
func before(a, b *grant) bool {
	if a.addr.used != b.addr.used {
		return a.addr.used < b.addr.used
	}
	return a.sess.used < b.sess.used
}
