package main

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// redacted is u as errors and the inspector's page show it: its password
// replaced by xxxxx, as url.URL.Redacted does, and a user name without a
// password too, since that is most often a password written without the
// colon before it (redis://PASSWORD@host), which url.Parse reads as a
// user name.
func redacted(u *url.URL) string {
	if u.User != nil {
		if _, has := u.User.Password(); !has && u.User.Username() != "" {
			c := *u
			c.User = url.User("xxxxx")
			return c.String()
		}
	}
	return u.Redacted()
}

// shownURL is u as errors show it: redacted, and without its query and
// fragment, which often carry a token (?token=…, ?access_token=…,
// #access_token=…) and say nothing of what is wrong.
//
// A URL without the // after its scheme (http:user:PASSWORD@host,
// http:/user:PASSWORD@host) has no user information to url.Parse: what
// it meant as that is the start of the opaque part or of the path, which
// is hidden up to its last @ as redacted hides user information.
func shownURL(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = "", false, "", ""
	if c.Host == "" && c.User == nil {
		if at := strings.LastIndex(c.Opaque, "@"); at >= 0 {
			c.Opaque = "xxxxx" + c.Opaque[at:]
		}
		if at := strings.LastIndex(c.Path, "@"); at >= 0 {
			slash := strings.HasPrefix(c.Path, "/")
			c.Path, c.RawPath = "xxxxx"+c.Path[at:], ""
			if slash {
				c.Path = "/" + c.Path
			}
		}
	}
	return redacted(&c)
}

// quotedPiece matches what a net/url error quotes: the URL, and the
// piece of it that it could not read.
var quotedPiece = regexp.MustCompile(` ?"(?:[^"\\]|\\.)*"`)

// parseReason is why url.Parse refused a URL (err), without the URL its
// error quotes whole nor the piece its message quotes (an escape, a port,
// a character), any of which may be a token's or a password's:
// `parse "…": invalid port ":80x" after host` is "invalid port after
// host".
func parseReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return quotedPiece.ReplaceAllString(err.Error(), "")
}

// hiddenQuery is the raw query q with every value replaced by xxxxx, its
// names kept (sorted, as url.Values encodes them), or "…" when it does
// not parse: what the inspector's page shows of a query, where an
// endpoint may carry a credential (?token=…, ?key=…).
func hiddenQuery(q string) string {
	vs, err := url.ParseQuery(q)
	if err != nil {
		return "…"
	}
	for _, v := range vs {
		for i := range v {
			v[i] = "xxxxx"
		}
	}
	return vs.Encode()
}

// shownTarget is a request target as the inspector's page shows it: its
// query's values hidden (see hiddenQuery), as "save as fixture" leaves
// the query out.
func shownTarget(target string) string {
	path, q, ok := strings.Cut(target, "?")
	if !ok || q == "" {
		return target
	}
	return path + "?" + hiddenQuery(q)
}
