//! A catalog product, and how it becomes a sale line.

use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::pricing::{Discount, LineInput};
use crate::quantity::Quantity;

/// A product as the catalog knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    /// EAN/UPC or in-store codes; any of them finds the product.
    pub barcodes: Vec<String>,
    pub name: String,
    /// Price per unit (per kg for weighed goods), in the branch's tax mode.
    pub unit_price: Money,
    pub tax_category: String,
}

impl Product {
    /// A sale line for `quantity` of this product at its catalog price.
    pub fn line(&self, quantity: Quantity, discount: Option<Discount>) -> LineInput {
        LineInput {
            sku: self.sku.clone(),
            name: self.name.clone(),
            unit_price: self.unit_price,
            quantity,
            tax_category: self.tax_category.clone(),
            discount,
        }
    }
}
