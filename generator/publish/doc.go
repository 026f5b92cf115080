// Package publish is how distgen reaches OCI content. One Store interface
// covers a registry under a prefix, an OCI image layout directory and an
// archive of one (read in place): push, mirror, sign, verify and bootstrap
// read and write through it, so each guarantee is made once. What a store
// reads is checked against its digest; what it writes is checked on the
// way in, a tag that already holds the content is skipped (and reported
// as skipped), and a layout survives a kill at any write point.
package publish
