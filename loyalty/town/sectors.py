"""NACE-BEL sector codes and their labels, from the bce-codes-to-label package."""

from __future__ import annotations

from functools import lru_cache

LANGUAGES = ("nl", "fr", "en")


@lru_cache(maxsize=2048)
def _entry(code: str) -> dict[str, object] | None:
    # Imported on first use: loading the registry takes most of a second, which
    # every worker process would otherwise pay at start-up.
    from bce_codes_to_label import nace

    digits = code.replace(".", "")
    for version in ("2008", "2025"):
        found = nace(f"{version}:{digits}")
        if isinstance(found, dict):
            return found
    return None


def is_known(code: str) -> bool:
    """True for a NACE-BEL 2008 or 2025 code such as "47.24" or "56.102"."""
    return _entry(code) is not None


def label(code: str, lang: str = "nl") -> str:
    """The official label of a sector code in nl, fr or en; the code itself if unknown."""
    entry = _entry(code)
    if entry is None:
        return code
    text = entry.get(f"label_{lang}") or entry.get("label_nl")
    return str(text) if text else code


# Short names for the sectors of a shopping street, as a shopper says them
# (nl, fr, en). The official NACE-BEL label ("Detailhandel in brood,
# banketbakkerswerk en suikerwerk in gespecialiseerde winkels") is for forms; a
# shop card, a chart or a report row needs "Brood en banket". Looked up by the longest
# prefix of the code, so "47.241" finds "47.24"; a code not listed keeps its
# official label.
SHORT_NAMES: dict[str, tuple[str, str, str]] = {
    "10.71": ("Bakkerij", "Boulangerie", "Bakery"),
    "45": ("Garage", "Garage", "Car trade and repair"),
    "47": ("Detailhandel", "Commerce de détail", "Retail"),
    "47.1": ("Supermarkten en warenhuizen", "Supermarchés et grands magasins",
             "Supermarkets and stores"),
    "47.11": ("Supermarkt", "Supermarché", "Supermarket"),
    "47.19": ("Warenhuis", "Grand magasin", "Department store"),
    "47.2": ("Voeding", "Alimentation", "Food shops"),
    "47.21": ("Groenten en fruit", "Fruits et légumes", "Greengrocer"),
    "47.22": ("Slagerij", "Boucherie", "Butcher"),
    "47.23": ("Vishandel", "Poissonnerie", "Fishmonger"),
    "47.24": ("Brood en banket", "Boulangerie et confiserie", "Bakery and sweets"),
    "47.25": ("Drankenhandel", "Boissons", "Drinks shop"),
    "47.26": ("Tabak en krantenwinkel", "Tabac et presse", "Tobacconist"),
    "47.29": ("Overige voeding", "Autre alimentation", "Other food"),
    "47.3": ("Tankstation", "Station-service", "Filling station"),
    "47.4": ("Computers en telefonie", "Informatique et téléphonie", "Computers and phones"),
    "47.5": ("Huis en tuin", "Maison et jardin", "Home and garden"),
    "47.51": ("Stoffen en garen", "Tissus", "Textiles"),
    "47.52": ("Doe-het-zelf", "Bricolage", "DIY and hardware"),
    "47.53": ("Behang en vloeren", "Revêtements", "Floor and wall coverings"),
    "47.54": ("Elektro", "Électroménager", "Electrical appliances"),
    "47.59": ("Meubels en interieur", "Meubles et décoration", "Furniture and interior"),
    "47.6": ("Vrije tijd", "Loisirs", "Leisure"),
    "47.61": ("Boekhandel", "Librairie", "Bookshop"),
    "47.62": ("Dagbladhandel", "Presse et papeterie", "Newsagent"),
    "47.63": ("Muziek en film", "Musique et vidéo", "Music and video"),
    "47.64": ("Sportwinkel", "Articles de sport", "Sports shop"),
    "47.65": ("Speelgoed", "Jouets", "Toy shop"),
    "47.7": ("Overige winkels", "Autres magasins", "Other shops"),
    "47.71": ("Kleding", "Vêtements", "Clothing"),
    "47.72": ("Schoenen en lederwaren", "Chaussures et maroquinerie", "Shoes and leather"),
    "47.721": ("Schoenen", "Chaussures", "Shoes"),
    "47.722": ("Lederwaren", "Maroquinerie", "Leather goods"),
    "47.73": ("Apotheek", "Pharmacie", "Pharmacy"),
    "47.74": ("Medische artikelen", "Articles médicaux", "Medical supplies"),
    "47.75": ("Parfumerie", "Parfumerie", "Perfumery"),
    "47.76": ("Bloemen en dieren", "Fleurs et animaux", "Florist and pets"),
    "47.77": ("Juwelier", "Bijouterie", "Jeweller"),
    "47.78": ("Overige speciaalzaken", "Autres magasins spécialisés", "Other specialist shops"),
    "47.782": ("Optiek en foto", "Optique et photo", "Optician and photo"),
    "47.79": ("Tweedehands", "Seconde main", "Second-hand"),
    "47.8": ("Markthandel", "Marchés", "Market stalls"),
    "47.9": ("Webwinkel en verkoop aan huis", "Vente à distance", "Online and home sales"),
    "56": ("Horeca", "Horeca", "Food and drink"),
    "56.1": ("Restaurants", "Restaurants", "Restaurants"),
    "56.101": ("Restaurant", "Restaurant", "Restaurant"),
    "56.102": ("Snackbar en frituur", "Snack et friterie", "Snack bar and chip shop"),
    "56.2": ("Traiteur", "Traiteur", "Caterer"),
    "56.3": ("Cafés", "Cafés", "Cafés and bars"),
    "56.301": ("Café", "Café", "Café"),
    # The municipality's own services that accept points and credit (town services).
    "90.04": ("Cultureel centrum", "Centre culturel", "Cultural centre"),
    "91.01": ("Bibliotheek", "Bibliothèque", "Library"),
    "93.11": ("Sportaccommodatie", "Installation sportive", "Sports facility"),
    "95.2": ("Herstellingen", "Réparations", "Repairs"),
    "96": ("Persoonlijke diensten", "Services personnels", "Personal services"),
    "96.0": ("Persoonlijke diensten", "Services personnels", "Personal services"),
    "96.02": ("Kapper en schoonheid", "Coiffure et beauté", "Hair and beauty"),
    "96.021": ("Kapper", "Coiffeur", "Hairdresser"),
    "96.022": ("Schoonheidssalon", "Institut de beauté", "Beauty salon"),
}


def short_label(code: str, lang: str = "nl") -> str:
    """A sector's short name in nl, fr or en ("Brood en banket"); the official label
    when none is listed."""
    digits = code.replace(".", "")
    best = None
    for prefix in SHORT_NAMES:
        if digits.startswith(prefix.replace(".", "")) and (
            best is None or len(prefix.replace(".", "")) > len(best.replace(".", ""))
        ):
            best = prefix
    if best is None:
        return label(code, lang)
    names = SHORT_NAMES[best]
    return names[LANGUAGES.index(lang) if lang in LANGUAGES else 0]
