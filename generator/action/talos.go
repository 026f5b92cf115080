package action

import (
	"context"
	"sort"
)

// TalosProfile renders the Image Factory schematic of the node image the
// project pins in versions.cue: Talos Linux with its system extensions.
type TalosProfile struct {
	// Dir is the project root or a directory below it.
	Dir string
}

// Schematic is an Image Factory schematic.
type Schematic struct {
	Customization SchematicCustomization `json:"customization"`
}

// SchematicCustomization is what a schematic changes in the stock image.
type SchematicCustomization struct {
	SystemExtensions struct {
		OfficialExtensions []string `json:"officialExtensions"`
	} `json:"systemExtensions"`
}

// TalosProfileResult is the schematic, for the pinned Talos version.
type TalosProfileResult struct {
	Version   string    `json:"version"`
	Schematic Schematic `json:"schematic"`
}

// Run renders the schematic; extensions are sorted so the same pins give
// the same schematic (and the same schematic ID at the factory).
func (t *TalosProfile) Run(ctx context.Context) (*TalosProfileResult, error) {
	proj, err := loadProject(t.Dir)
	if err != nil {
		return nil, err
	}
	talos := proj.Versions.Talos
	if talos == nil {
		return nil, &UsageError{Msg: "versions.cue pins no Talos version (versions.talos)"}
	}
	res := &TalosProfileResult{Version: talos.Version}
	exts := res.Schematic.Customization.SystemExtensions.OfficialExtensions
	for name := range talos.Extensions {
		exts = append(exts, "siderolabs/"+name)
	}
	sort.Strings(exts)
	res.Schematic.Customization.SystemExtensions.OfficialExtensions = exts
	return res, nil
}
