"""IGV's batch commands as :class:`~tether_igv.client.IGVClient` methods, generated from the
table in :mod:`tether_igv.commands` (one method per row with ``generated=True``), as source:
type checkers and editors see every method, its arguments and its docstring.

Do not edit: ``python -m tether_igv.commands --write`` writes this file again from the table,
and tests/unit/test_igv_generated.py fails when it is out of date.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .commands import BY_NAME

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

    from .commands import BatchCommand
    from .protocol import Reply


class GeneratedCommands:
    """The table's commands; :class:`~tether_igv.client.IGVClient` runs them (``_run``)."""

    def _run(self, spec: BatchCommand, values: tuple[Any, ...], timeout: float | None) -> Reply:
        raise NotImplementedError  # pragma: no cover - IGVClient's

    def add_frames(self, *loci: str, timeout: float | None = None) -> Reply:
        """IGV's ``addFrames`` (IGV 2.12 and later): Add panels for more loci beside the current ones (IGV
        wants at least two).

        ``loci``: Loci for the new panels.
        """
        return self._run(BY_NAME["add-frames"], (*loci,), timeout)

    def zoom_in(self, *, timeout: float | None = None) -> Reply:
        """IGV's ``zoomin`` (IGV 2.5 and later): Zoom in one step."""
        return self._run(BY_NAME["zoom-in"], (), timeout)

    def zoom_out(self, *, timeout: float | None = None) -> Reply:
        """IGV's ``zoomout`` (IGV 2.5 and later): Zoom out one step."""
        return self._run(BY_NAME["zoom-out"], (), timeout)

    def scroll_to_track(self, track: str, *, timeout: float | None = None) -> Reply:
        """IGV's ``scrollToTrack`` (IGV 2.9 and later): Scroll the track panel to a track.

        ``track``: Track name or file path.
        """
        return self._run(BY_NAME["scroll-to-track"], (track,), timeout)

    def scroll_to_top(self, *, timeout: float | None = None) -> Reply:
        """IGV's ``scrollToTop`` (IGV 2.17 and later): Scroll every track panel to its top."""
        return self._run(BY_NAME["scroll-to-top"], (), timeout)

    def tofront(self, *, timeout: float | None = None) -> Reply:
        """IGV's ``tofront`` (IGV 2.5 and later): Bring IGV's window to the front."""
        return self._run(BY_NAME["tofront"], (), timeout)

    def remove(self, track: str, *, timeout: float | None = None) -> Reply:
        """IGV's ``remove`` (IGV 2.5 and later): Remove a track.

        ``track``: Track name or file path.
        """
        return self._run(BY_NAME["remove"], (track,), timeout)

    def rename_track(self, track: str, new_name: str, *, timeout: float | None = None) -> Reply:
        """IGV's ``renameTrack`` (IGV 3.0 and later): Rename a track.

        ``track``: The track's current name.
        ``new_name``: Its new name.
        """
        return self._run(BY_NAME["rename-track"], (track, new_name), timeout)

    def set_data_range(
        self, range: str | Sequence[float], track: str | None = None, *, timeout: float | None = None
    ) -> Reply:
        """IGV's ``setDataRange`` (IGV 2.5 and later): Set a data track's range: min,max or
        min,baseline,max, or auto (autoscale).

        ``range``: min,max | min,baseline,max | auto
        ``track``: Track name or file path (default: every track).
        """
        return self._run(BY_NAME["set-data-range"], (range, track), timeout)

    def set_log_scale(
        self, log: bool | str, track: str | None = None, *, timeout: float | None = None
    ) -> Reply:
        """IGV's ``setLogScale`` (IGV 2.5 and later): Log scale on (true) or off (false).

        ``log``: true or false
        ``track``: Track name or file path (default: every track).
        """
        return self._run(BY_NAME["set-log-scale"], (log, track), timeout)

    def set_color(
        self, color: str | Sequence[int], track: str | None = None, *, timeout: float | None = None
    ) -> Reply:
        """IGV's ``setColor`` (IGV 2.12 and later): Set a track's colour.

        ``color``: r,g,b (0-255 each) or #rrggbb
        ``track``: Track name or file path (default: every track).
        """
        return self._run(BY_NAME["set-color"], (color, track), timeout)

    def set_alt_color(
        self, color: str | Sequence[int], track: str | None = None, *, timeout: float | None = None
    ) -> Reply:
        """IGV's ``setAltColor`` (IGV 2.12 and later): Set a track's alternative (negative-value/strand)
        colour.

        ``color``: r,g,b (0-255 each) or #rrggbb
        ``track``: Track name or file path (default: every track).
        """
        return self._run(BY_NAME["set-alt-color"], (color, track), timeout)

    def set_track_height(
        self, height: int | str, track: str | None = None, *, timeout: float | None = None
    ) -> Reply:
        """IGV's ``setTrackHeight`` (IGV 2.10 and later): Set a track's height in pixels.

        ``height``: Height in pixels.
        ``track``: Track name or file path (default: every track).
        """
        return self._run(BY_NAME["set-track-height"], (height, track), timeout)

    def set_row_height(
        self, height: int | str, track: str | None = None, *, timeout: float | None = None
    ) -> Reply:
        """IGV's ``setRowHeight`` (IGV 3.0 and later): Set a track's row height in pixels.

        ``height``: Row height in pixels.
        ``track``: Track name or file path (default: every track).
        """
        return self._run(BY_NAME["set-row-height"], (height, track), timeout)

    def show_data_range(
        self, show: bool | str, track: str | None = None, *, timeout: float | None = None
    ) -> Reply:
        """IGV's ``showDataRange`` (IGV 2.10 and later): Show or hide a data track's range label.

        ``show``: true or false
        ``track``: Track name or file path (default: every track).
        """
        return self._run(BY_NAME["show-data-range"], (show, track), timeout)

    def fit_tracks(self, *, timeout: float | None = None) -> Reply:
        """IGV's ``fitTracks`` (IGV 2.10 and later): Fit the tracks' heights to the window."""
        return self._run(BY_NAME["fit-tracks"], (), timeout)

    def overlay(self, name: str, *tracks: str, timeout: float | None = None) -> Reply:
        """IGV's ``overlay`` (IGV 2.12 and later): Overlay data tracks as one track with this name.

        ``name``: The overlaid track's name.
        ``tracks``: Data tracks.
        """
        return self._run(BY_NAME["overlay"], (name, *tracks), timeout)

    def separate(self, track: str, *, timeout: float | None = None) -> Reply:
        """IGV's ``separate`` (IGV 2.12 and later): Split an overlaid track back into its tracks.

        ``track``: Track name or file path.
        """
        return self._run(BY_NAME["separate"], (track,), timeout)

    def set_sequence_strand(self, strand: str, *, timeout: float | None = None) -> Reply:
        """IGV's ``setSequenceStrand`` (IGV 2.9 and later): Show the sequence track's + or - strand.

        ``strand``: + or -
        """
        return self._run(BY_NAME["set-sequence-strand"], (strand,), timeout)

    def set_sequence_show_translation(self, show: bool | str, *, timeout: float | None = None) -> Reply:
        """IGV's ``setSequenceShowTranslation`` (IGV 2.9 and later): Show the sequence track's translation.

        ``show``: true or false
        """
        return self._run(BY_NAME["set-sequence-show-translation"], (show,), timeout)

    def sort_by_attribute(self, *pairs: str, timeout: float | None = None) -> Reply:
        """IGV's ``sortByAttribute`` (IGV 2.10 and later): Sort tracks by sample attributes: ATTRIBUTE
        asc|desc [ATTRIBUTE asc|desc …].

        ``pairs``: ATTRIBUTE asc|desc, one pair or more.
        """
        return self._run(BY_NAME["sort-by-attribute"], (*pairs,), timeout)

    def show_attributes(self, *attributes: str, timeout: float | None = None) -> Reply:
        """IGV's ``showAttributes`` (IGV 2.10 and later): Show only these sample attributes (none: hide
        every one).

        ``attributes``: Attribute names.
        """
        return self._run(BY_NAME["show-attributes"], (*attributes,), timeout)

    def sampling_window_size(self, bases: int | str, *, timeout: float | None = None) -> Reply:
        """IGV's ``samplingWindowSize`` (IGV 2.5 and later): Alignment downsampling window, in bases.

        ``bases``: Window size in bases.
        """
        return self._run(BY_NAME["sampling-window-size"], (bases,), timeout)

    def max_depth(self, reads: int | str, *, timeout: float | None = None) -> Reply:
        """IGV's ``maxDepth`` (IGV 2.5 and later): Reads kept per downsampling window.

        ``reads``: Reads per window.
        """
        return self._run(BY_NAME["max-depth"], (reads,), timeout)

    def set_credentials(self, user: str, password: str, *, timeout: float | None = None) -> Reply:
        """IGV's ``setCredentials`` (IGV 2.5 and later): User and password for protected URLs.

        ``user``: User name.
        ``password``: Password.
        """
        return self._run(BY_NAME["set-credentials"], (user, password), timeout)

    def clear_credentials(self, *, timeout: float | None = None) -> Reply:
        """IGV's ``clearCredentials`` (IGV 2.5 and later): Forget the user and password."""
        return self._run(BY_NAME["clear-credentials"], (), timeout)

    def set_access_token(
        self, token: str, domain: str | None = None, *, timeout: float | None = None
    ) -> Reply:
        """IGV's ``setAccessToken`` (IGV 2.15 and later): An OAuth access token, for every URL or for one
        domain.

        ``token``: The token.
        ``domain``: Domain (e.g. *.example.org).
        """
        return self._run(BY_NAME["set-access-token"], (token, domain), timeout)

    def clear_access_tokens(self, *, timeout: float | None = None) -> Reply:
        """IGV's ``clearAccessTokens`` (IGV 2.15 and later): Forget every access token."""
        return self._run(BY_NAME["clear-access-tokens"], (), timeout)

    def tools_yaml(self, *, timeout: float | None = None) -> str:
        """IGV's ``toolsYaml`` (IGV 3.0 and later): IGV's configured tools, as YAML."""
        return self._run(BY_NAME["tools-yaml"], (), timeout).text
