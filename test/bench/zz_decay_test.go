package bench

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkZZDecay(b *testing.B) {
	p := startK1s(b, b.TempDir())
	p.idleMemory()
	createConfigMaps(b, p.client, "load", objects)
	getConfigMaps(b, p.client, "load")
	getUpdateConfigMaps(b, p.client, "load", 1)
	listConfigMaps(b, p.client, "load", 1, listRounds)
	listConfigMaps(b, p.client, "load", clients, 4)
	watchFanOut(b, p.client, "load-watch")
	deleteConfigMaps(b, p.client, "load")
	deleteConfigMaps(b, p.client, "load-watch")
	for i := 0; i < 60; i++ {
		m := p.memory()
		if i%5 == 0 {
			fmt.Printf("t=%2ds rss=%.1f anon=%.1f file=%.1f peak=%.1f\n", i, m.rss, m.anon, m.file, m.peak)
		}
		time.Sleep(time.Second)
	}
}
