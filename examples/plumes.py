"""Smoke plumes simulated with phiflow: the data of `smoke_plumes.py`.

`simulate(wall, strength, size, frames)` gives the velocity fields
`(frames, size, size, 2)` of one plume rising from a wall;
`make_data(...)` the `(inputs, next frame)` pairs of the training,
future and unseen-domain sets, scaled together.
"""

import numpy as np

HISTORY = 2  # input frames


def simulate(wall, strength, size, frames, warmup=8):
    """Velocity fields `(frames, size, size, 2)` of one plume, as
    `(v_row, v_col)`: the "standard" field of the 2D groups."""
    from phi import flow

    bounds = flow.Box(x=size, y=size)
    grid = dict(x=size, y=size, bounds=bounds)
    # (x, y) of the inflow and buoyancy direction, for walls bottom,
    # right, top, left: each a quarter turn of the one before.
    centre, offset = size / 2, size / 8
    places = [
        ((centre, offset), (0, 1)),
        ((size - offset, centre), (-1, 0)),
        ((centre, size - offset), (0, -1)),
        ((offset, centre), (1, 0)),
    ]
    (x, y), (dx, dy) = places[wall]
    position = flow.tensor([x, y], flow.channel(vector="x,y"))
    direction = flow.tensor(
        [dx * strength, dy * strength], flow.channel(vector="x,y")
    )
    inflow = 0.4 * flow.CenteredGrid(
        flow.Sphere(center=position, radius=size / 16 + 1),
        flow.extrapolation.BOUNDARY,
        **grid,
    )
    smoke = flow.CenteredGrid(0, flow.extrapolation.BOUNDARY, **grid)
    velocity = flow.StaggeredGrid(0, flow.extrapolation.ZERO, **grid)
    solve = flow.Solve("scipy-direct", 1e-3, 1e-3, rank_deficiency=1)
    fields = []
    for step in range(warmup + frames):
        smoke = flow.advect.mac_cormack(smoke, velocity, dt=1) + inflow
        force = (smoke * direction) @ velocity
        velocity = flow.advect.semi_lagrangian(velocity, velocity, dt=1)
        velocity, _ = flow.fluid.make_incompressible(
            velocity + force, solve=solve
        )
        if step >= warmup:
            v = velocity.at_centers().values.numpy("y,x,vector")
            # Rows run along y, downwards in the array: (v_row, v_col) =
            # (v_y, v_x).
            fields.append(np.stack([v[..., 1], v[..., 0]], -1))
    return np.array(fields, dtype="float32")


def strength(wall, magnitude):
    return 0.04 * (1 + wall / 3) * magnitude


def pairs(fields):
    """Inputs `(n, H, W, 2 * HISTORY)` and next frames `(n, H, W, 2)`."""
    inputs = [
        np.concatenate(fields[t - HISTORY + 1 : t + 1], axis=-1)
        for t in range(HISTORY - 1, len(fields) - 1)
    ]
    return np.array(inputs), fields[HISTORY:]


def make_data(size, frames, train_frames, magnitudes, unseen, warmup=8):
    train, future, domain = [], [], []
    for wall in range(4):
        for m in magnitudes:
            fields = simulate(wall, strength(wall, m), size, frames, warmup)
            train.append(pairs(fields[:train_frames]))
            future.append(pairs(fields[train_frames - HISTORY :]))
        fields = simulate(wall, strength(wall, unseen), size, frames, warmup)
        domain.append(pairs(fields))

    def stack(parts):
        return tuple(np.concatenate(p) for p in zip(*parts))

    train, future, domain = stack(train), stack(future), stack(domain)
    scale = float(np.std(train[1]))
    return [(x / scale, y / scale) for x, y in (train, future, domain)]
