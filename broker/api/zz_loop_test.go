package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func BenchmarkZZLoopback(b *testing.B) {
	s := newFullStack(b, 1000)
	srv := httptest.NewServer(s.e)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, _ := http.NewRequest("GET", srv.URL+RouteCredentials, nil)
			r.Header.Set("Authorization", "Bearer "+s.token)
			res, err := c.Do(r)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatal(res.StatusCode)
			}
		}
	})
}
