// Package publish is the publish step of distgen's flow: it stores built OCI
// artifacts through one Publisher interface, in a registry or in an OCI
// image layout directory (for sites without a registry). Both skip what they
// already hold, so publishing an unchanged release moves nothing.
package publish
