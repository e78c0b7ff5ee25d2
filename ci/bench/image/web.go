package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Targets of the web interface (issue 11), under software emulation.
const (
	targetPage   = 100 * time.Millisecond
	targetSignIn = 300 * time.Millisecond
)

// webFigures are the web interface's times, measured from the host.
type webFigures struct {
	signIn, pageP50, pageMax time.Duration
	pages                    int
}

func (w webFigures) print(out io.Writer, accel string) {
	if w.pages == 0 {
		return
	}
	fmt.Fprintf(out, "web (%s): sign-in (password hashing included) %s (target <= %s) %s\n", accel, w.signIn.Round(time.Millisecond), targetSignIn, verdict(w.signIn <= targetSignIn))
	fmt.Fprintf(out, "web (%s): Status > Overview page p50 %s, max %s over %d (target p50 <= %s) %s\n", accel, w.pageP50.Round(time.Millisecond), w.pageMax.Round(time.Millisecond), w.pages, targetPage, verdict(w.pageP50 <= targetPage))
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// measureWeb signs in as admin with the sample build's default password
// and fetches the overview page 20 times.
func measureWeb(ctx context.Context, base string) (webFigures, error) {
	var w webFigures
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute, Transport: &http.Transport{
		// The device's certificate is self-signed: this client only times
		// pages, it sends no secret but the sample's default password.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	get := func(path string) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	page, err := get("/login")
	if err != nil {
		return w, fmt.Errorf("web sign-in page: %w", err)
	}
	tok := csrfRE.FindStringSubmatch(page)
	if tok == nil {
		return w, errors.New("web: the sign-in page has no form token")
	}
	// The sign-in alone: its answer is a redirect, not followed here.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	start := time.Now()
	resp, err := c.PostForm(base+"/login", url.Values{"username": {"admin"}, "password": {"TANDBERG"}, "csrf": {tok[1]}})
	if err != nil {
		return w, fmt.Errorf("web sign-in: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	w.signIn = time.Since(start)
	c.CheckRedirect = nil
	if resp.StatusCode != http.StatusSeeOther {
		return w, fmt.Errorf("web sign-in answered %s", resp.Status)
	}
	var times []time.Duration
	for range 20 {
		s := time.Now()
		page, err := get("/status/overview")
		if err != nil {
			return w, fmt.Errorf("web overview: %w", err)
		}
		if !strings.Contains(page, "Resource usage") {
			return w, errors.New("web: the sign-in did not work, the overview page is not shown")
		}
		times = append(times, time.Since(s))
	}
	slices.Sort(times)
	w.pages, w.pageP50, w.pageMax = len(times), times[len(times)/2], times[len(times)-1]
	return w, nil
}
