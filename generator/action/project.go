package action

import (
	"time"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/load"
	"github.com/distgen/distgen/generator/plan"
	"github.com/distgen/distgen/generator/timing"
)

// Project says which project and bundle an action works on.
type Project struct {
	// Dir is the project root or a directory below it.
	Dir string
	// Bundle is the bundle's name; empty when the project has only one.
	Bundle string
}

// loadProject loads the project at dir or above it.
func loadProject(dir string) (*api.Project, error) { return loadProjectWith(dir, load.Options{}) }

// loadProjectWith is loadProject with load's options.
func loadProjectWith(dir string, o load.Options) (*api.Project, error) {
	root, err := load.FindRoot(dir)
	if err != nil {
		return nil, err
	}
	return load.ProjectWith(root, o)
}

// plan loads the project and plans the chosen bundle.
func (p Project) plan() (*api.Project, *plan.Plan, error) { return p.planWith(nil, load.Options{}) }

// planWith is plan with load's options, adding the time of loading and
// planning to stages.
func (p Project) planWith(stages *timing.Stages, o load.Options) (*api.Project, *plan.Plan, error) {
	start := time.Now()
	proj, err := loadProjectWith(p.Dir, o)
	if err != nil {
		return nil, nil, err
	}
	b, err := load.Bundle(proj, p.Bundle)
	if err != nil {
		return nil, nil, err
	}
	stages.Since(timing.Load, start)
	start = time.Now()
	pl, err := plan.Build(b)
	if err != nil {
		return nil, nil, err
	}
	stages.Since(timing.Plan, start)
	return proj, pl, nil
}
