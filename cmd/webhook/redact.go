package main

import "net/url"

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
