package action

import (
	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/load"
	"github.com/distgen/distgen/generator/plan"
)

// Project says which project and bundle an action works on.
type Project struct {
	// Dir is the project root or a directory below it.
	Dir string
	// Bundle is the bundle's name; empty when the project has only one.
	Bundle string
}

// loadProject loads the project at dir or above it.
func loadProject(dir string) (*api.Project, error) {
	root, err := load.FindRoot(dir)
	if err != nil {
		return nil, err
	}
	return load.Project(root)
}

// plan loads the project and plans the chosen bundle.
func (p Project) plan() (*api.Project, *plan.Plan, error) {
	proj, err := loadProject(p.Dir)
	if err != nil {
		return nil, nil, err
	}
	b, err := load.Bundle(proj, p.Bundle)
	if err != nil {
		return nil, nil, err
	}
	pl, err := plan.Build(b)
	if err != nil {
		return nil, nil, err
	}
	return proj, pl, nil
}
