package rebuild

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/image"
)

// Rebase is the built-in executor: it swaps the old base's layers for the new
// base's without a daemon or a build. Configuration keys:
//
//	insecure  "true" allows plain HTTP to registries other than localhost
//
// Registry auth comes from the docker config (or the image options given
// to New).
type Rebase struct {
	insecure  bool
	imageOpts []image.Option
}

func newRebase(cfg map[string]string) (Executor, error) {
	x := &Rebase{}
	if v := cfg["insecure"]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("rebase: insecure: %w", err)
		}
		x.insecure = b
	}
	return x, nil
}

func (x *Rebase) setImageOptions(opts []image.Option) { x.imageOpts = append(x.imageOpts, opts...) }

// Name is "rebase".
func (x *Rebase) Name() string { return "rebase" }

// Rebuild replaces req.OldBase's layers at the bottom of req.Current with
// req.NewBase's, keeps the application layers and their history, merges the
// configuration, sets the base annotations (name = req.NewBaseTag, digest =
// req.NewBase's digest), pushes by digest and then tags req.Target. It
// returns an error wrapping ErrNotPrefix when the old base's diffIDs are not
// the first layers of the image. When req.Target already holds this image's
// application layers on req.NewBase (same base.digest annotation), nothing is
// pushed and that image is returned.
func (x *Rebase) Rebuild(ctx context.Context, req Request) (Result, error) {
	for _, f := range []struct{ name, v string }{{"Current", req.Current}, {"OldBase", req.OldBase}, {"NewBase", req.NewBase}, {"Target", req.Target}} {
		if f.v == "" {
			return Result{}, fmt.Errorf("rebase %s: request has no %s", req.Name, f.name)
		}
	}
	opts := append([]image.Option{image.WithInsecure(x.insecure)}, x.imageOpts...)
	ropts := image.RemoteOptions(ctx, opts...)
	// One puller and pusher for the whole rebase: each keeps its registry
	// transports (ping, auth tokens) across the reads and writes below.
	if p, err := remote.NewPuller(ropts...); err == nil {
		ropts = append(ropts, remote.Reuse(p))
	}
	if p, err := remote.NewPusher(ropts...); err == nil {
		ropts = append(ropts, remote.Reuse(p))
	}

	target, err := image.ParseReference(req.Target, x.insecure)
	if err != nil {
		return Result{}, fmt.Errorf("rebase: target: %w", err)
	}
	tag, ok := target.(name.Tag)
	if !ok {
		return Result{}, fmt.Errorf("rebase: target %s must be a tag", req.Target)
	}

	cur, err := fetchImage(req.Current, x.insecure, true, ropts)
	if err != nil {
		return Result{}, fmt.Errorf("rebase: current image: %w", err)
	}
	curCfg, err := cur.ConfigFile()
	if err != nil {
		return Result{}, fmt.Errorf("rebase: current image config: %w", err)
	}
	platform := remote.WithPlatform(v1.Platform{OS: curCfg.OS, Architecture: curCfg.Architecture, Variant: curCfg.Variant})
	bopts := append(slices.Clone(ropts), platform)
	oldBase, err := fetchImage(req.OldBase, x.insecure, false, bopts)
	if err != nil {
		return Result{}, fmt.Errorf("rebase: old base: %w", err)
	}
	newBase, err := fetchImage(req.NewBase, x.insecure, false, bopts)
	if err != nil {
		return Result{}, fmt.Errorf("rebase: new base: %w", err)
	}
	newBaseDigest, err := refDigest(req.NewBase, newBase, x.insecure)
	if err != nil {
		return Result{}, fmt.Errorf("rebase: new base: %w", err)
	}
	oldCfg, err := oldBase.ConfigFile()
	if err != nil {
		return Result{}, fmt.Errorf("rebase: old base config: %w", err)
	}
	newCfg, err := newBase.ConfigFile()
	if err != nil {
		return Result{}, fmt.Errorf("rebase: new base config: %w", err)
	}
	nOld := len(oldCfg.RootFS.DiffIDs)
	if n := commonPrefix(oldCfg.RootFS.DiffIDs, curCfg.RootFS.DiffIDs); n < nOld || nOld >= len(curCfg.RootFS.DiffIDs) {
		reason := fmt.Sprintf("the old base's layer %d of %d differs from the image's", n+1, nOld)
		if nOld >= len(curCfg.RootFS.DiffIDs) {
			reason = fmt.Sprintf("the old base has %d layers and the image only %d", nOld, len(curCfg.RootFS.DiffIDs))
		}
		return Result{}, fmt.Errorf("rebase %s onto %s: %w: %s", req.Current, req.NewBase, ErrNotPrefix, reason)
	}
	appIDs := curCfg.RootFS.DiffIDs[nOld:]

	// Idempotency: the target may already be this rebase.
	if existing, ok, err := alreadyRebased(tag, newBaseDigest, len(newCfg.RootFS.DiffIDs), appIDs, ropts); err != nil {
		return Result{}, err
	} else if ok {
		return Result{
			Image: tag.Context().Digest(existing).String(),
			Tags:  []string{tag.String()},
			Log:   fmt.Sprintf("%s already holds %s's application layers on %s; nothing pushed", tag, req.Current, newBaseDigest),
		}, nil
	}

	baseName := req.NewBaseTag
	if baseName == "" {
		if r, err := image.ParseReference(req.NewBase, x.insecure); err == nil {
			baseName = r.Context().Name()
		}
	}
	img, err := rebaseImage(cur, oldBase, newBase, map[string]string{
		image.AnnotationBaseName:   baseName,
		image.AnnotationBaseDigest: newBaseDigest,
	})
	if err != nil {
		return Result{}, fmt.Errorf("rebase %s: %w", req.Current, err)
	}
	d, err := img.Digest()
	if err != nil {
		return Result{}, fmt.Errorf("rebase %s: %w", req.Current, err)
	}
	byDigest := tag.Context().Digest(d.String())
	if err := remote.Write(byDigest, img, ropts...); err != nil {
		return Result{}, fmt.Errorf("rebase: push %s: %w", byDigest, err)
	}
	if err := remote.Tag(tag, img, ropts...); err != nil {
		return Result{}, fmt.Errorf("rebase: tag %s: %w", tag, err)
	}
	return Result{
		Image: byDigest.String(),
		Tags:  []string{tag.String()},
		Log:   fmt.Sprintf("rebased %s from %s onto %s (%d base layers replaced by %d, %d application layers kept) and pushed %s", req.Current, req.OldBase, req.NewBase, nOld, len(newCfg.RootFS.DiffIDs), len(appIDs), tag),
	}, nil
}

// fetchImage reads one image; an index is refused for the image being
// rebased (pushing one platform over a multi-platform tag would drop the
// others) and resolved to the platform in opts for bases.
func fetchImage(ref string, insecure, refuseIndex bool, opts []remote.Option) (v1.Image, error) {
	r, err := image.ParseReference(ref, insecure)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", r, err)
	}
	if refuseIndex && desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s is a multi-platform index; rebasing indexes is not supported (use the build or dispatch executor)", r)
	}
	return desc.Image()
}

// refDigest is the digest a reference pins, or the image's own digest.
func refDigest(ref string, img v1.Image, insecure bool) (string, error) {
	if r, err := image.ParseReference(ref, insecure); err == nil {
		if d, ok := r.(name.Digest); ok {
			return d.DigestStr(), nil
		}
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// alreadyRebased reports whether tag holds an image annotated with base
// digest newBase whose layers above the first nBase are appIDs.
func alreadyRebased(tag name.Tag, newBase string, nBase int, appIDs []v1.Hash, opts []remote.Option) (string, bool, error) {
	desc, err := remote.Get(tag, opts...)
	if err != nil {
		return "", false, nil // absent or unreadable: push (a push error will say why)
	}
	if !desc.MediaType.IsImage() {
		return "", false, nil
	}
	img, err := desc.Image()
	if err != nil {
		return "", false, nil
	}
	m, err := img.Manifest()
	if err != nil || m.Annotations[image.AnnotationBaseDigest] != newBase {
		return "", false, nil
	}
	cf, err := img.ConfigFile()
	if err != nil || len(cf.RootFS.DiffIDs) != nBase+len(appIDs) || !slices.Equal(cf.RootFS.DiffIDs[nBase:], appIDs) {
		return "", false, nil
	}
	return desc.Digest.String(), true, nil
}

// rebaseImage stitches newBase's layers and history under orig's
// application layers and history, merges the configuration, and sets
// annotations on top of orig's manifest annotations.
func rebaseImage(orig, oldBase, newBase v1.Image, annotations map[string]string) (v1.Image, error) {
	origCfg, err := orig.ConfigFile()
	if err != nil {
		return nil, err
	}
	oldCfg, err := oldBase.ConfigFile()
	if err != nil {
		return nil, err
	}
	newCfg, err := newBase.ConfigFile()
	if err != nil {
		return nil, err
	}
	origM, err := orig.Manifest()
	if err != nil {
		return nil, err
	}
	newM, err := newBase.Manifest()
	if err != nil {
		return nil, err
	}
	origLayers, err := orig.Layers()
	if err != nil {
		return nil, err
	}
	newLayers, err := newBase.Layers()
	if err != nil {
		return nil, err
	}
	nOld := len(oldCfg.RootFS.DiffIDs)
	if len(origLayers) != len(origM.Layers) || len(newLayers) != len(newM.Layers) {
		return nil, errors.New("manifest and layer list disagree")
	}

	var adds []mutate.Addendum
	for i, l := range newLayers {
		adds = append(adds, mutate.Addendum{Layer: l, Annotations: newM.Layers[i].Annotations})
	}
	for i := nOld; i < len(origLayers); i++ {
		adds = append(adds, mutate.Addendum{Layer: origLayers[i], Annotations: origM.Layers[i].Annotations})
	}

	cfg := origCfg.DeepCopy()
	cfg.Architecture, cfg.OS, cfg.OSVersion, cfg.Variant, cfg.OSFeatures = newCfg.Architecture, newCfg.OS, newCfg.OSVersion, newCfg.Variant, newCfg.OSFeatures
	cfg.Config = mergeConfig(origCfg.Config, oldCfg.Config, newCfg.Config)
	if newCfg.Created.After(cfg.Created.Time) {
		cfg.Created = newCfg.Created
	}
	cfg.RootFS.DiffIDs = slices.Concat(newCfg.RootFS.DiffIDs, origCfg.RootFS.DiffIDs[nOld:])
	cfg.History = rebaseHistory(origCfg.History, len(oldCfg.History), nOld, newCfg.History)

	base := mutate.MediaType(empty.Image, origM.MediaType)
	base = mutate.ConfigMediaType(base, origM.Config.MediaType)
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, err
	}
	// Replace the config Append computed (it adds a blank history entry per
	// layer) with the one stitched above; the layers are the same.
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	ann := map[string]string{}
	for k, v := range origM.Annotations {
		ann[k] = v
	}
	for k, v := range annotations {
		ann[k] = v
	}
	return mutate.Annotations(img, ann).(v1.Image), nil
}

// rebaseHistory is the new base's history followed by the original's entries
// above the old base: an entry is the application's once both the old base's
// history entries and its layers have been passed.
func rebaseHistory(orig []v1.History, nOldHistory, nOldLayers int, newBase []v1.History) []v1.History {
	if len(orig) == 0 {
		return nil
	}
	out := slices.Clone(newBase)
	layers := 0
	for i, h := range orig {
		own := i >= nOldHistory && layers >= nOldLayers
		if !h.EmptyLayer {
			layers++
		}
		if own {
			out = append(out, h)
		}
	}
	return out
}

// mergeConfig keeps what the application set and moves what it inherited
// from the old base to the new base's values: an env variable or label
// whose value equals the old base's follows the new base (and goes if the
// new base dropped it); variables and labels the new base adds are added;
// User, WorkingDir, Entrypoint, Cmd and StopSignal follow the new base when
// the application left them as the old base had them.
func mergeConfig(app, oldB, newB v1.Config) v1.Config {
	out := *app.DeepCopy()
	oldEnv, newEnv := envMap(oldB.Env), envMap(newB.Env)
	appEnv := envMap(app.Env)
	out.Env = nil
	for _, kv := range app.Env {
		k, v := splitEnv(kv)
		if ov, inherited := oldEnv[k]; inherited && ov == v {
			if nv, ok := newEnv[k]; ok {
				out.Env = append(out.Env, k+"="+nv)
			}
			continue
		}
		out.Env = append(out.Env, kv)
	}
	for _, kv := range newB.Env {
		k, _ := splitEnv(kv)
		if _, inApp := appEnv[k]; inApp {
			continue
		}
		if _, inOld := oldEnv[k]; inOld {
			continue // the old base had it and the application's image does not: keep it out
		}
		out.Env = append(out.Env, kv)
	}
	if len(app.Labels) > 0 || len(newB.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range app.Labels {
			if ov, inherited := oldB.Labels[k]; inherited && ov == v {
				if nv, ok := newB.Labels[k]; ok {
					labels[k] = nv
				}
				continue
			}
			labels[k] = v
		}
		for k, v := range newB.Labels {
			if _, inApp := app.Labels[k]; !inApp {
				if _, inOld := oldB.Labels[k]; !inOld {
					labels[k] = v
				}
			}
		}
		out.Labels = labels
	}
	if app.User == oldB.User {
		out.User = newB.User
	}
	if app.WorkingDir == oldB.WorkingDir {
		out.WorkingDir = newB.WorkingDir
	}
	if app.StopSignal == oldB.StopSignal {
		out.StopSignal = newB.StopSignal
	}
	if slices.Equal(app.Entrypoint, oldB.Entrypoint) {
		out.Entrypoint = slices.Clone(newB.Entrypoint)
	}
	if slices.Equal(app.Cmd, oldB.Cmd) {
		out.Cmd = slices.Clone(newB.Cmd)
	}
	return out
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v := splitEnv(kv)
		m[k] = v
	}
	return m
}

func splitEnv(kv string) (string, string) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:]
		}
	}
	return kv, ""
}

func commonPrefix(a, b []v1.Hash) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
