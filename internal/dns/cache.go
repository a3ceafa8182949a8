package dns

import (
	"container/list"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

const (
	// maxCacheTTL bounds how long a positive answer is kept, whatever
	// the upstream says.
	maxCacheTTL = time.Hour
	// maxNegativeTTL bounds how long NXDOMAIN and NODATA are kept
	// (RFC 2308: from the SOA in the authority section, or not at all).
	maxNegativeTTL = 30 * time.Second
)

// cacheKey is what makes two questions the same answer.
type cacheKey struct {
	name          string // lower case
	qtype, qclass uint16
	do, cd        bool
}

func keyOf(q dns.Question, do, cd bool) cacheKey {
	return cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass, do: do, cd: cd}
}

type cacheEntry struct {
	key     cacheKey
	msg     *dns.Msg
	stored  time.Time
	expires time.Time
}

// answerCache is a bounded LRU of upstream answers, each kept for its TTL.
// Time comes in as an argument; it is safe for concurrent use.
type answerCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recently used
	items map[cacheKey]*list.Element
}

func newAnswerCache(maxEntries int) *answerCache {
	return &answerCache{max: maxEntries, order: list.New(), items: make(map[cacheKey]*list.Element)}
}

// get returns a copy of the answer for key with its TTLs counted down to
// now, or false when there is none or it expired.
func (c *answerCache) get(key cacheKey, now time.Time) (*dns.Msg, bool) {
	c.mu.Lock()
	el, ok := c.items[key]
	if !ok {
		c.mu.Unlock()
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, key)
		c.mu.Unlock()
		return nil, false
	}
	c.order.MoveToFront(el)
	c.mu.Unlock()
	m := e.msg.Copy()
	age := uint32(now.Sub(e.stored) / time.Second)
	for _, rrs := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range rrs {
			h := rr.Header()
			if h.Rrtype == dns.TypeOPT {
				continue
			}
			h.Ttl -= min(age, h.Ttl)
		}
	}
	return m, true
}

// put stores a copy of m when it may be cached.
func (c *answerCache) put(key cacheKey, m *dns.Msg, now time.Time) {
	ttl, ok := cacheTTL(m)
	if !ok || c.max <= 0 {
		return
	}
	e := &cacheEntry{key: key, msg: m.Copy(), stored: now, expires: now.Add(ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(e)
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*cacheEntry).key)
	}
}

func (c *answerCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// cacheTTL says how long m may be cached: positive answers for their
// smallest TTL (at most maxCacheTTL), NXDOMAIN and NODATA for their SOA's
// negative TTL (at most maxNegativeTTL); errors and truncated answers not.
func cacheTTL(m *dns.Msg) (time.Duration, bool) {
	if m.Truncated {
		return 0, false
	}
	negative := m.Rcode == dns.RcodeNameError || (m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0)
	if !negative && m.Rcode != dns.RcodeSuccess {
		return 0, false
	}
	if negative {
		for _, rr := range m.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				ttl := time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
				return min(ttl, maxNegativeTTL), ttl > 0
			}
		}
		return 0, false
	}
	lowest := uint32(maxCacheTTL / time.Second)
	for _, rrs := range [][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range rrs {
			lowest = min(lowest, rr.Header().Ttl)
		}
	}
	return time.Duration(lowest) * time.Second, lowest > 0
}
