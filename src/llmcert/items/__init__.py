"""Items: test cases read from item files or imported from public datasets."""

from llmcert.items._files import read_item_file
from llmcert.items._item import Item
from llmcert.items.importers import IMPORTERS, import_dataset

__all__ = ["IMPORTERS", "Item", "import_dataset", "read_item_file"]
