"""Where the channels are: `data_format` and the channel axis."""

import keras

__all__ = ["channel_axis", "standardize"]


def standardize(data_format):
    """`data_format`, defaulting to `keras.config.image_data_format()`.

    Raises:
        ValueError: for anything but `"channels_last"`/`"channels_first"`.
    """
    if data_format is None:
        data_format = keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "Expected data_format 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}."
        )
    return data_format


def channel_axis(rank, data_format):
    """The channel axis of a batch of `rank` dimensions (rank 2 is
    `(batch, channels)`, whatever the data format)."""
    if rank == 2 or data_format == "channels_last":
        return rank - 1
    return 1
