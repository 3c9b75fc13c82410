"""``--cluster ADDRESS``: segmentation and suggestions computed on a Dask cluster, written here.

Running a pipeline over a corpus is a pure map over articles (``import``) or sentences
(``suggest``), so batches go to the workers of a ``dask.distributed`` cluster and their results
come back, in order, to the one process that writes the SQLite file. The writer is the local
code itself: ``ClusterImporter`` is the ``ArticleImporter`` whose ``analyse`` step (segment +
suggest, ``importer.analyse_texts``) takes the workers' results instead of computing them, and
``Cluster.suggest_rows`` replaces ``resuggest.suggest_rows`` inside ``suggest_dataset``. So the
transactions, rows and hashes are those of a local run (one transaction per file; one per batch
of ``--batch-size`` suggestion rows), and a killed run resumes as a local one does (articles by
content hash, suggestions by sentence and source).

- Each worker builds the pipeline once per run spec (``_cached``, a module-level cache in the
  worker process keyed by a hash of what is sent), not once per batch.
- At most ``window`` batches are in flight (2 × workers + 2): reading articles waits for the
  writer, so the client's memory does not grow with the corpus.
- A worker that dies mid-batch has its batch recomputed elsewhere (the scheduler reassigns it;
  ``retries=`` covers exceptions); only the batch's one result is ever written.

Dask is an optional extra (``pip install 'annotator[cluster]'``), imported only when a cluster is
used; ``local:N`` starts a scheduler and N workers, each in a process of its own (Dask's
``SubprocessCluster``), so the writing process holds only the client: with a ``LocalCluster``
the scheduler ran inside it and its memory grew with the number of tasks.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import threading
from collections import OrderedDict, deque
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from .errors import AnnotatorError
from .importer import ArticleImporter, ArticleInput, SuggestOptions, analyse_texts, read_articles
from .segment import content_hash

if TYPE_CHECKING:  # pragma: no cover
    from .importer import Analysis
    from .labels import LabelScheme
    from .model import Relation, Span, Token

INSTALL = "pip install 'annotator[cluster]'"
BATCH_ARTICLES = 32
"""Articles per task of an import (``--cluster-batch``)."""
RETRIES = 3
"""Times a task that raised is run again (a worker's death is handled by the scheduler)."""
FAULT_ENV = "ANNOTATOR_CLUSTER_FAULT"
"""``exit-once:PATH``: the first task that creates PATH kills its worker process (for the fault tests)."""

_END = object()  # marks the end of a file in the stream of read articles


class ClusterError(AnnotatorError):
    """The cluster cannot be used: Dask missing, a bad address, no scheduler, workers that differ."""


@dataclass(frozen=True)
class Address:
    """Where the work goes: a local cluster of ``local_workers`` processes, or a scheduler."""

    local_workers: int | None = None
    scheduler: str | None = None


_SCHEDULER = re.compile(r"(?:(?:tcp|tls|ws|wss|ucx)://)?[A-Za-z0-9._\-\[\]:]+:\d+/?")


def parse_address(text: str) -> Address:
    """``local:N`` or a scheduler address (``tcp://HOST:8786``, ``HOST:8786``).

    >>> parse_address("local:2")
    Address(local_workers=2, scheduler=None)
    >>> parse_address("tcp://10.0.0.5:8786").scheduler
    'tcp://10.0.0.5:8786'
    """
    text = text.strip()
    if text.startswith("local:") or text == "local":
        number = text.partition(":")[2]
        if not number.isdigit() or int(number) < 1:
            raise ClusterError(f"--cluster {text!r}: local:N needs a number of worker processes N ≥ 1 (e.g. local:4)")
        return Address(local_workers=int(number))
    if _SCHEDULER.fullmatch(text):
        return Address(scheduler=text)
    raise ClusterError(f"--cluster {text!r}: not a Dask scheduler address (tcp://HOST:8786) nor local:N")


def require_dask():
    """``dask.distributed``, or a one-line ``ClusterError`` saying how to install it."""
    try:
        import dask.distributed as distributed  # ~0.5 s; only for --cluster
    except ImportError:
        raise ClusterError(f"--cluster needs Dask, which is not installed: {INSTALL}") from None
    return distributed


@contextmanager
def connect(address: str, *, batch_articles: int = BATCH_ARTICLES, wait_workers: float = 60) -> Iterator["Cluster"]:
    """An open ``Cluster`` for ``address``; a ``local:N`` cluster is stopped on exit."""
    where = parse_address(address)
    distributed = require_dask()
    import logging

    local = client = None
    try:
        if where.local_workers:
            from distributed.deploy.subprocess import SubprocessCluster

            local = SubprocessCluster(n_workers=where.local_workers, threads_per_worker=1,
                                      dashboard_address=None, silence_logs=logging.ERROR)
            client = distributed.Client(local)
        else:
            try:
                client = distributed.Client(where.scheduler, timeout="10s")
            except (OSError, TimeoutError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ClusterError(f"cannot reach the Dask scheduler at {where.scheduler}: {first}") from None
            try:
                client.wait_for_workers(1, timeout=wait_workers)
            except (OSError, TimeoutError):
                raise ClusterError(f"no Dask worker joined the scheduler at {where.scheduler} within "
                                   f"{wait_workers:.0f} s (start some with `dask worker {where.scheduler}`)") from None
        yield Cluster(client, batch_articles=batch_articles)
    finally:
        if client is not None:
            client.close()
        if local is not None:
            local.close()


class Cluster:
    """A connected Dask client and how work is cut for it."""

    def __init__(self, client, *, batch_articles: int = BATCH_ARTICLES, window: int | None = None,
                 retries: int = RETRIES):
        self.client = client
        self.batch_articles = batch_articles
        self.retries = retries
        self._window = window

    @property
    def workers(self) -> int:
        return max(len(self.client.scheduler_info().get("workers", {})), 1)

    @property
    def window(self) -> int:
        """Batches in flight at most (back-pressure): 2 × workers + 2."""
        return self._window or 2 * self.workers + 2

    def ordered(self, function: Callable, spec: Any, batches: Iterable[tuple[Any, list]]) -> Iterator[tuple[Any, Any]]:
        """``(tag, payload)`` → ``(tag, function(spec, payload))`` in the order given, computed on
        the workers with at most ``window`` batches in flight; an empty payload is not sent (None)."""
        batches = iter(batches)
        inflight: deque[tuple[Any, Any]] = deque()
        exhausted = False
        window = self.window
        try:
            while True:
                while not exhausted and len(inflight) < window:
                    try:
                        tag, payload = next(batches)
                    except StopIteration:
                        exhausted = True
                        break
                    future = self.client.submit(function, spec, payload, retries=self.retries, pure=False) \
                        if payload else None
                    inflight.append((tag, future))
                if not inflight:
                    return
                tag, future = inflight.popleft()
                result = None
                if future is not None:
                    result = future.result()
                    future.release()
                yield tag, result
        finally:
            for _, future in inflight:
                if future is not None:
                    future.cancel()

    # -- import ---------------------------------------------------------------------------------

    def article_importer(self, importer: ArticleImporter, files: Sequence[Path], scheme: "LabelScheme",
                         suggest: SuggestOptions | None) -> "ClusterImporter":
        """``importer`` (set up as for a local run) with the analysis of ``files``' articles on the workers."""
        spec = ImportSpec.of(scheme, None if suggest is None else replace(suggest, workers=1),
                             importer.suggestion_source)
        return ClusterImporter(importer, self, files, spec)

    # -- suggest --------------------------------------------------------------------------------

    def suggest_rows(self, sentences: Iterable[tuple[str, Sequence["Token"]]], scheme: "LabelScheme", model: str,
                     source: str, batch_size: int) -> Iterator[tuple[list["Span"], list["Relation"]]]:
        """``resuggest.suggest_rows`` of ``model`` on the workers, in order, ``batch_size`` sentences a task."""
        spec = SuggestSpec.of(scheme, model, source, batch_size)

        def batches():
            batch: list[tuple[str, tuple]] = []
            for text, tokens in sentences:
                batch.append((text, tuple(tokens)))
                if len(batch) >= batch_size:
                    yield None, batch
                    batch = []
            if batch:
                yield None, batch

        for _, rows in self.ordered(suggest_batch, spec, batches()):
            yield from rows


# -- what the workers run ------------------------------------------------------------------------


def _key(*parts: Any) -> str:
    return hashlib.sha256(pickle.dumps(parts)).hexdigest()[:16]


@dataclass(frozen=True)
class ImportSpec:
    """What a worker needs to segment and suggest as ``import_files`` does here."""

    scheme: Any
    suggest: SuggestOptions | None
    source: str
    key: str

    @classmethod
    def of(cls, scheme, suggest: SuggestOptions | None, source: str) -> "ImportSpec":
        return cls(scheme, suggest, source, _key("import", scheme, suggest, source))


@dataclass(frozen=True)
class SuggestSpec:
    """What a worker needs to run ``resuggest.suggest_rows`` as ``suggest_dataset`` does here."""

    scheme: Any
    model: str
    source: str
    batch_size: int
    key: str

    @classmethod
    def of(cls, scheme, model: str, source: str, batch_size: int) -> "SuggestSpec":
        return cls(scheme, model, source, batch_size, _key("suggest", scheme, model, source, batch_size))


_CACHE: OrderedDict[str, Any] = OrderedDict()
_CACHE_SIZE = 2  # a long-lived worker keeps the pipelines of the last runs only
_LOCK = threading.Lock()
LOADS: dict[str, int] = {}
"""How often this process built each spec's pipeline (``Client.run`` reads it in the tests)."""


def _cached(key: str, make: Callable[[], Any]) -> Any:
    """The pipeline for ``key``, built once per worker process."""
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        value = make()
        LOADS[key] = LOADS.get(key, 0) + 1
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return value


def loads() -> dict[str, int]:
    """This process's ``LOADS`` (run on every worker with ``Client.run``)."""
    return dict(LOADS)


def _fault_hook() -> None:
    """With ``ANNOTATOR_CLUSTER_FAULT=exit-once:PATH`` the first task to create PATH kills its
    worker process, as a crashed machine would (used by the fault tests)."""
    fault = os.environ.get(FAULT_ENV, "")
    if not fault.startswith("exit-once:"):
        return
    try:
        fd = os.open(fault.partition(":")[2], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os._exit(1)


def _import_tools(spec: ImportSpec):
    from .importer import article_analysis
    from .segment import Segmenter

    if spec.suggest is None:
        return Segmenter(), None, ""
    segmenter, suggest, source, _ = article_analysis(spec.scheme, spec.suggest)
    return segmenter, suggest, source


def analyse_batch(spec: ImportSpec, texts: list[str]) -> "Analysis":
    """On a worker: ``importer.analyse_texts`` of a batch of articles."""
    _fault_hook()
    segmenter, suggest, source = _cached(spec.key, lambda: _import_tools(spec))
    if source != spec.source:
        raise ClusterError(f"a worker suggests as {source!r}, the client as {spec.source!r}: install the same "
                           "spaCy pipeline on every worker")
    return analyse_texts(texts, segmenter, suggest, source)


def suggest_batch(spec: SuggestSpec, sentences: list[tuple[str, tuple]]) -> list[tuple[list, list]]:
    """On a worker: ``resuggest.suggest_rows`` of a batch of sentences."""
    from .resuggest import load_model, suggest_rows

    _fault_hook()
    nlp = _cached(spec.key, lambda: load_model(spec.model))
    return list(suggest_rows(nlp, sentences, spec.scheme, spec.source, batch_size=spec.batch_size))


# -- the writer's side of an import --------------------------------------------------------------


class ClusterImporter(ArticleImporter):
    """The local ``ArticleImporter`` (same chunks, transactions and rows) whose articles were
    segmented and suggested on the cluster ahead of the writer."""

    def __init__(self, base: ArticleImporter, cluster: Cluster, files: Sequence[Path], spec: ImportSpec):
        super().__init__(base.store, base.dataset, segmenter=base.segmenter, suggest=base.suggest,
                         suggestion_source=base.suggestion_source, on_article=base.on_article,
                         dataset_settings=base.dataset_settings)
        self.cluster = cluster
        self._items = self._analysed(cluster.ordered(analyse_batch, spec, self._batches(files)))
        self._ready: deque[tuple[ArticleInput, Any]] = deque()
        self._file_open = False

    def _read(self, files: Sequence[Path]) -> Iterator[tuple[Path, Any]]:
        """``(path, article)`` for every article; a read error and then ``_END`` close each file."""
        for path in files:
            try:
                for article in read_articles(path):
                    yield path, article
            except AnnotatorError as exc:
                yield path, exc
            yield path, _END

    def _batches(self, files: Sequence[Path]) -> Iterator[tuple[list, list[str]]]:
        """Batches of ``batch_articles`` articles to analyse (those not stored yet), with the items
        around them (stored articles, errors, ends of files) that go through the stream too."""
        size = self.cluster.batch_articles
        items: list[tuple[Path, Any, bool]] = []
        texts: list[str] = []
        for path, item in self._read(files):
            wanted = isinstance(item, ArticleInput) and not self.store.has_article(self.dataset, content_hash(item.text))
            items.append((path, item, wanted))
            if wanted:
                texts.append(item.text)
            if len(texts) >= size or len(items) >= 16 * size:
                yield items, texts
                items, texts = [], []
        if items:
            yield items, texts

    def _analysed(self, results: Iterator[tuple[list, Any]]) -> Iterator[tuple[Path, Any, Any]]:
        for items, analysis in results:
            position = 0
            for path, item, wanted in items:
                if wanted:
                    yield path, item, (analysis[0][position], analysis[1][position])
                    position += 1
                else:
                    yield path, item, None

    def import_file(self, path: Path):
        """Import one file, all or nothing, from the stream the workers feed."""
        self._file_open = True
        try:
            return self.import_articles(self._articles_of(path))
        finally:
            try:
                while self._file_open:  # a file that failed: skip the rest of its articles
                    self._next_of(path)
            except AnnotatorError:
                self._file_open = False

    def _next_of(self, path: Path) -> Any:
        try:
            item_path, item, analysis = next(self._items)
        except StopIteration:
            raise ClusterError("the cluster's results ended before the articles did (an earlier error stopped them)") from None
        if item_path != path:  # the stream follows the files in the order import_files takes them
            raise RuntimeError(f"cluster import out of step: {item_path} read, {path} expected")
        if item is _END:
            self._file_open = False
        elif isinstance(item, ArticleInput):
            self._ready.append((item, analysis))
        return item

    def _articles_of(self, path: Path) -> Iterator[ArticleInput]:
        while self._file_open:
            item = self._next_of(path)
            if isinstance(item, AnnotatorError):
                raise item
            if item is not _END:
                yield item

    def _write_chunk(self, chunk):
        try:
            return super()._write_chunk(chunk)
        finally:
            self._ready.clear()  # the chunk's articles that were already stored

    def analyse(self, articles: list[ArticleInput]) -> "Analysis":
        """The workers' results for these articles (computed here for one a worker did not get:
        stored when read ahead, by a file whose transaction then failed)."""
        segmented: list = []
        suggestions: list = []
        for article in articles:
            while True:
                item, analysis = self._ready.popleft()
                if item is article:
                    break
            if analysis is None:
                local = super().analyse([article])
                analysis = (local[0][0], local[1][0])
            segmented.append(analysis[0])
            suggestions.append(analysis[1])
        return segmented, suggestions
